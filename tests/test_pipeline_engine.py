"""The pipeline engine: definitions are checked against the registry and run in order."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from pipelines.engine import check_definition, compile_definition, load_pipelines
from pipelines.errors import PipelineDefinitionError, PipelineError
from pipelines.registry import Plugin, Tool, get_registry

CALLS: list[str] = []


def _double(frame: np.ndarray) -> np.ndarray:
    CALLS.append("double")
    return frame * 2


def _mean(frame: np.ndarray) -> dict[str, float]:
    CALLS.append("mean")
    return {"mean": float(frame.mean())}


def _pair(left: np.ndarray, right: np.ndarray) -> dict[str, float]:
    CALLS.append("pair")
    return {"diff": float((left - right).mean())}


REGISTRY = {
    "toy": Plugin(
        "toy",
        "test plugin",
        {
            "double": Tool("double", _double, {"frame": "frame"}, "frame"),
            "mean": Tool("mean", _mean, {"frame": "frame"}, "metrics"),
            "pair": Tool("pair", _pair, {"left": "frame", "right": "frame"}, "metrics"),
        },
    )
}

DIAMOND: dict[str, Any] = {
    "id": "diamond",
    "nodes": [
        {"id": "pair", "plugin": "toy", "tool": "pair"},
        {"id": "a", "plugin": "toy", "tool": "double"},
        {"id": "b", "plugin": "toy", "tool": "double"},
        {"id": "m", "plugin": "toy", "tool": "mean"},
    ],
    "edges": [
        {"from": "a", "to": "b"},
        {"from": "a", "to": "pair", "input": "left"},
        {"from": "b", "to": "pair", "input": "right"},
        {"from": "b", "to": "m"},
    ],
    "entry": ["a"],
    "outputs": ["pair", "m"],
}


def test_diamond_runs_in_topological_order_and_merges_outputs() -> None:
    CALLS.clear()
    pipeline = compile_definition(DIAMOND, REGISTRY)
    assert [n.id for n in pipeline.nodes].index("pair") > [n.id for n in pipeline.nodes].index("b")
    result = pipeline.run(np.ones((2, 2), dtype=np.float32))
    assert result == {"diff": -2.0, "mean": 4.0}
    assert CALLS.count("double") == 2 and CALLS[-1] in {"pair", "mean"}


def _broken(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DIAMOND)
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("raw", "rule", "pointer"),
    [
        (_broken(extra=1), "schema", ""),
        (_broken(entry=["zz"]), "unknown-entry", "/entry/0"),
        (_broken(outputs=["zz"]), "unknown-outputs", "/outputs/0"),
        (
            _broken(nodes=[*DIAMOND["nodes"], {"id": "x", "plugin": "nope", "tool": "t"}]),
            "unknown-plugin",
            "/nodes/4/plugin",
        ),
        (
            _broken(nodes=[*DIAMOND["nodes"], {"id": "x", "plugin": "toy", "tool": "nope"}]),
            "unknown-tool",
            "/nodes/4/tool",
        ),
        (
            _broken(edges=[*DIAMOND["edges"][:3], {"from": "m", "to": "b"}]),
            "input-fed-twice",
            "/edges/3",
        ),
        (
            _broken(edges=[{"from": "m", "to": "b"}, *DIAMOND["edges"][1:]]),
            "type-mismatch",
            "/edges/0",
        ),
        (_broken(edges=DIAMOND["edges"][1:]), "unfed-input", "/nodes/2"),
        (
            _broken(edges=[*DIAMOND["edges"], {"from": "pair", "to": "a"}]),
            "edge-into-entry",
            "/edges/4/to",
        ),
        (
            _broken(nodes=[*DIAMOND["nodes"], {"id": "lone", "plugin": "toy", "tool": "double"}]),
            "unfed-input",
            "/nodes/4",
        ),
        (_broken(outputs=["pair"]), "unused-node", "/nodes/3"),
    ],
)
def test_each_broken_definition_is_reported_at_its_place(
    raw: dict[str, Any], rule: str, pointer: str
) -> None:
    problems = check_definition(raw, REGISTRY)
    assert (pointer, rule) in [(p.pointer, p.rule) for p in problems], problems
    with pytest.raises(PipelineDefinitionError):
        compile_definition(raw, REGISTRY)


def test_cycle_is_reported() -> None:
    raw = {
        "id": "loop",
        "nodes": [
            {"id": "a", "plugin": "toy", "tool": "double"},
            {"id": "b", "plugin": "toy", "tool": "double"},
            {"id": "c", "plugin": "toy", "tool": "double"},
            {"id": "m", "plugin": "toy", "tool": "mean"},
        ],
        "edges": [
            {"from": "b", "to": "c"},
            {"from": "c", "to": "b"},
            {"from": "a", "to": "m"},
        ],
        "entry": ["a"],
        "outputs": ["m"],
    }
    assert [p.rule for p in check_definition(raw, REGISTRY)] == ["cycle"]


def test_output_node_must_return_a_json_type() -> None:
    raw = _broken(outputs=["pair", "m", "b"])
    assert "output-type" in [p.rule for p in check_definition(raw, REGISTRY)]


def test_clashing_output_keys_fail_the_run() -> None:
    raw = _broken(
        nodes=[*DIAMOND["nodes"], {"id": "m2", "plugin": "toy", "tool": "mean"}],
        edges=[*DIAMOND["edges"], {"from": "a", "to": "m2"}],
        outputs=["pair", "m", "m2"],
    )
    pipeline = compile_definition(raw, REGISTRY)
    with pytest.raises(PipelineError, match="repeat keys"):
        pipeline.run(np.ones((2, 2), dtype=np.float32))


def test_shipped_definitions_compile_against_the_real_registry() -> None:
    pipelines = load_pipelines()
    assert {"frame_stats", "exposure"} <= pipelines.keys()
    registry = get_registry()
    for pipeline in pipelines.values():
        for node in pipeline.nodes:
            assert registry[node.plugin].tools[node.tool.name] is node.tool


def test_an_unknown_tool_is_reported_once_not_again_downstream() -> None:
    nodes = [dict(n) for n in DIAMOND["nodes"]]
    nodes[2]["tool"] = "nope"  # node "b"
    problems = check_definition(_broken(nodes=nodes), REGISTRY)
    assert [(p.pointer, p.rule) for p in problems] == [("/nodes/2/tool", "unknown-tool")]


@pytest.mark.parametrize("node_id", ["thumb\n", "Thumb", "1thumb", "a" * 65])
def test_node_ids_are_plain_names(node_id: str) -> None:
    nodes = [dict(n) for n in DIAMOND["nodes"]]
    nodes[0]["id"] = node_id
    assert "schema" in [p.rule for p in check_definition(_broken(nodes=nodes), REGISTRY)]

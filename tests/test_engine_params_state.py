"""Node params and per-job state: defaults merged with a node's JSON, checked where they are."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pipelines.engine import check_definition, compile_definition
from pipelines.errors import PipelineDefinitionError
from pipelines.registry import Param, Plugin, Tool


def scaled_mean(frame: np.ndarray, scale: float, label: str, clip: bool, digits: int) -> dict:
    value = float(frame.mean()) * scale
    return {"value": round(min(value, 1.0) if clip else value, digits), "label": label}


def running_count(frame: np.ndarray, step: int, previous: dict | None, frame_index: int) -> dict:
    """Counts the frames of one job and remembers the last frame's mean and index."""
    count = (previous["count"] if previous else 0) + step
    last = previous["mean"] if previous else None
    gap = frame_index - previous["index"] if previous else None
    changed = last != float(frame.mean())
    return {
        "count": count,
        "mean": float(frame.mean()),
        "changed": changed,
        "index": frame_index,
        "gap": gap,
    }


SCALED = Tool(
    "scaled",
    scaled_mean,
    {"frame": "frame"},
    "metrics",
    params={
        "scale": Param("number", 1.0, minimum=0, maximum=10, doc="multiplier"),
        "label": Param("string", "plain"),
        "clip": Param("boolean", False),
        "digits": Param("integer", 3, minimum=0, maximum=6),
    },
)
COUNTER = Tool(
    "counter",
    running_count,
    {"frame": "frame"},
    "metrics",
    params={"step": Param("integer", 1, minimum=1)},
    stateful=True,
)
REGISTRY = {"toy": Plugin("toy", "test plugin", {"scaled": SCALED, "counter": COUNTER})}


def definition(**params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "s", "plugin": "toy", "tool": "scaled"}
    if params:
        node["params"] = params
    return {"id": "p", "nodes": [node], "edges": [], "entry": ["s"], "outputs": ["s"]}


COUNTING: dict[str, Any] = {
    "id": "counting",
    "nodes": [{"id": "c", "plugin": "toy", "tool": "counter", "params": {"step": 2}}],
    "edges": [],
    "entry": ["c"],
    "outputs": ["c"],
}


def frame(level: float) -> np.ndarray:
    return np.full((2, 2, 3), level, dtype=np.float32)


def test_defaults_are_passed_when_the_node_sets_nothing() -> None:
    result = compile_definition(definition(), REGISTRY).run(frame(0.5))
    assert result == {"value": 0.5, "label": "plain"}


def test_node_params_override_the_defaults_and_the_rest_stay() -> None:
    pipeline = compile_definition(definition(scale=4, clip=True, label="x"), REGISTRY)
    assert pipeline.run(frame(0.5)) == {"value": 1.0, "label": "x"}
    pipeline = compile_definition(definition(scale=0.3333, digits=1), REGISTRY)
    assert pipeline.run(frame(0.5)) == {"value": 0.2, "label": "plain"}
    assert pipeline.describe()["nodes"][0]["params"] == {
        "scale": 0.3333,
        "label": "plain",
        "clip": False,
        "digits": 1,
    }


@pytest.mark.parametrize(
    ("params", "rule", "pointer", "text"),
    [
        ({"scal": 2}, "unknown-param", "/nodes/0/params/scal", "no parameter 'scal'"),
        ({"a/b~": 1}, "unknown-param", "/nodes/0/params/a~1b~0", "no parameter 'a/b~'"),
        ({"scale": "2"}, "param-type", "/nodes/0/params/scale", "'2' is not a number"),
        ({"scale": True}, "param-type", "/nodes/0/params/scale", "True is not a number"),
        ({"scale": math.nan}, "param-type", "/nodes/0/params/scale", "nan is not a finite"),
        ({"digits": 2.5}, "param-type", "/nodes/0/params/digits", "2.5 is not an integer"),
        ({"clip": 1}, "param-type", "/nodes/0/params/clip", "1 is not a boolean"),
        ({"label": 3}, "param-type", "/nodes/0/params/label", "3 is not a string"),
        ({"scale": -0.5}, "param-range", "/nodes/0/params/scale", "below the minimum 0"),
        ({"digits": 7}, "param-range", "/nodes/0/params/digits", "above the maximum 6"),
    ],
)
def test_bad_params_are_reported_at_their_json_pointer(
    params: dict[str, Any], rule: str, pointer: str, text: str
) -> None:
    problems = check_definition(definition(**params), REGISTRY)
    assert [(p.pointer, p.rule) for p in problems] == [(pointer, rule)]
    assert text in problems[0].message
    with pytest.raises(PipelineDefinitionError, match=pointer):
        compile_definition(definition(**params), REGISTRY)


def test_params_must_be_an_object() -> None:
    raw = definition()
    raw["nodes"][0]["params"] = [1]
    assert [(p.pointer, p.rule) for p in check_definition(raw, REGISTRY)] == [
        ("/nodes/0/params", "schema")
    ]


def test_a_stateful_tool_sees_its_own_previous_output_within_one_run() -> None:
    job_run = compile_definition(COUNTING, REGISTRY).start()
    results = [job_run.run(frame(level)) for level in (0.1, 0.1, 0.2)]
    assert [r["count"] for r in results] == [2, 4, 6]
    assert [r["changed"] for r in results] == [True, False, True]


def test_each_run_starts_empty_and_runs_never_share_state() -> None:
    pipeline = compile_definition(COUNTING, REGISTRY)
    first, second = pipeline.start(), pipeline.start()
    assert first.run(frame(0.1))["count"] == 2
    assert first.run(frame(0.1))["count"] == 4
    assert second.run(frame(0.1))["count"] == 2  # interleaved with first, yet on its own
    assert first.run(frame(0.1))["count"] == 6
    assert pipeline.start().run(frame(0.1))["count"] == 2


def test_pipeline_run_is_a_one_frame_run() -> None:
    pipeline = compile_definition(COUNTING, REGISTRY)
    assert [pipeline.run(frame(0.1))["count"] for _ in range(3)] == [2, 2, 2]


def test_a_stateful_tool_is_told_each_frame_index() -> None:
    job_run = compile_definition(COUNTING, REGISTRY).start()
    assert [job_run.run(frame(0.1), index)["gap"] for index in (0, 5, 10, 20)] == [None, 5, 5, 10]
    counting = compile_definition(COUNTING, REGISTRY).start()
    assert [counting.run(frame(0.1))["index"] for _ in range(3)] == [0, 1, 2]  # stride 1

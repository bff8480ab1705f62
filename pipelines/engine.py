"""Pipeline definitions: load the JSON DAGs, check them against the registry, run them per frame."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from pipelines.errors import PipelineDefinitionError, PipelineError
from pipelines.graph import topological_order
from pipelines.params import FRAME_INDEX, PREVIOUS, merged, value_problems
from pipelines.registry import SOURCE_TYPE, VALUE_TYPES, Plugin, Tool, get_registry

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
SCHEMA_PATH = Path(__file__).parent / "pipeline_schema.json"
#: Marks an input port fed by the decoded frame rather than by another node.
SOURCE = "<frame>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition; ``pointer`` is a JSON pointer into the document."""

    pointer: str
    rule: str
    message: str


@dataclass(frozen=True)
class Node:
    """A checked node: its tool, the node (or SOURCE) feeding each input port, its params."""

    id: str
    plugin: str
    tool: Tool
    feeds: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """A checked pipeline whose nodes are in topological order; stateless and shareable."""

    id: str
    description: str
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    #: The longest side of the frames the pipeline receives (``frame_size.max_side``); None
    #: means full-size frames. The decoder scales inside ffmpeg, so plugins see this size.
    max_side: int | None = None

    def start(self) -> PipelineRun:
        """A fresh run for one job: stateful nodes start with no previous output."""
        return PipelineRun(self)

    def run(self, frame: Any, frame_index: int = 0) -> dict[str, Any]:
        """Run one frame on its own (a one-frame run: stateful tools get ``previous=None``)."""
        return self.start().run(frame, frame_index)

    def describe(self) -> dict[str, Any]:
        """The client-facing summary: id, description, the nodes with their tools (and params)."""
        nodes = [
            {"id": n.id, "plugin": n.plugin, "tool": n.tool.name}
            | ({"params": dict(n.params)} if n.params else {})
            for n in self.nodes
        ]
        return {
            "pipeline_id": self.id,
            "description": self.description,
            "nodes": nodes,
            "outputs": list(self.outputs),
        }


class PipelineRun:
    """One job's pass over its kept frames, holding each stateful node's last output.

    Made by ``Pipeline.start()`` for every job and dropped with it, so no state is ever
    shared between jobs. Frames must be given in order; stateful tools also get
    ``frame_index`` (the kept frame's index in the decoded stream), so that they can count
    video frames whatever the frame stride.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._previous: dict[str, Any] = {n.id: None for n in pipeline.nodes if n.tool.stateful}
        self._frames_run = 0

    def run(self, frame: Any, frame_index: int | None = None) -> dict[str, Any]:
        """Run every node on the next frame and merge the output nodes' dicts into one result.

        ``frame_index`` defaults to the number of frames this run has seen (stride 1).
        """
        index = self._frames_run if frame_index is None else frame_index
        self._frames_run += 1
        values: dict[str, Any] = {SOURCE: frame}
        previous = self._previous
        for node in self.pipeline.nodes:
            kwargs = {port: values[src] for port, src in node.feeds.items()}
            if node.id in previous:
                kwargs[PREVIOUS] = previous[node.id]
                kwargs[FRAME_INDEX] = index
            values[node.id] = node.tool.func(**kwargs, **node.params)
        for node_id in previous:
            previous[node_id] = values[node_id]
        result: dict[str, Any] = {}
        for node_id in self.pipeline.outputs:
            output = values[node_id]
            clash = result.keys() & output.keys()
            if clash:
                raise PipelineError(
                    f"pipeline {self.pipeline.id}: outputs repeat keys {sorted(clash)}"
                )
            result.update(output)
        return result


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _pointer(parts: Any) -> str:
    return "/" + "/".join(str(p) for p in parts) if parts else ""


def check_definition(raw: Any, registry: Mapping[str, Plugin] | None = None) -> list[Problem]:
    """Return every problem with a parsed definition; an empty list means it can be compiled."""
    registry = get_registry() if registry is None else registry
    schema_errors = sorted(_schema_validator().iter_errors(raw), key=lambda e: list(e.path))
    if schema_errors:
        return [Problem(_pointer(e.path), "schema", e.message) for e in schema_errors]
    problems: list[Problem] = []
    tools: dict[str, Tool] = {}
    for i, node in enumerate(raw["nodes"]):
        if node["id"] in tools or node["id"] in {n["id"] for n in raw["nodes"][:i]}:
            problems.append(Problem(f"/nodes/{i}/id", "duplicate-node", f"{node['id']!r} again"))
            continue
        plugin = registry.get(node["plugin"])
        tool = plugin.tool(node["tool"]) if plugin else None
        if plugin is None:
            msg = f"plugin {node['plugin']!r} is not in the registry"
            problems.append(Problem(f"/nodes/{i}/plugin", "unknown-plugin", msg))
        elif tool is None:
            msg = f"plugin {node['plugin']!r} has no tool {node['tool']!r}"
            problems.append(Problem(f"/nodes/{i}/tool", "unknown-tool", msg))
        else:
            tools[node["id"]] = tool
            params = node.get("params", {})
            found = value_problems(tool.params, params, f"/nodes/{i}/params")
            problems.extend(Problem(*problem) for problem in found)
    node_ids = {n["id"] for n in raw["nodes"]}
    for key in ("entry", "outputs"):
        for i, node_id in enumerate(raw[key]):
            if node_id not in node_ids:
                problems.append(Problem(f"/{key}/{i}", f"unknown-{key}", f"no node {node_id!r}"))
    feeds: dict[str, dict[str, str]] = {node_id: {} for node_id in tools}
    for i, edge in enumerate(raw["edges"]):
        problems.extend(_check_edge(i, edge, node_ids, tools, feeds, raw["entry"]))
    for node_id, tool in tools.items():
        if node_id in raw["entry"]:
            for port, port_type in tool.inputs.items():
                if port_type != SOURCE_TYPE:
                    msg = f"entry node {node_id!r} input {port!r} is {port_type}, not {SOURCE_TYPE}"
                    problems.append(Problem(_node_ptr(raw, node_id), "entry-type", msg))
        else:
            for port in tool.inputs.keys() - feeds[node_id].keys():
                msg = f"input {port!r} of node {node_id!r} is fed by no edge"
                problems.append(Problem(_node_ptr(raw, node_id), "unfed-input", msg))
    for i, node_id in enumerate(raw["outputs"]):
        tool = tools.get(node_id)
        if tool is not None and not VALUE_TYPES.get(tool.output, {}).get("json"):
            msg = f"output node {node_id!r} returns {tool.output}, which is not a JSON type"
            problems.append(Problem(f"/outputs/{i}", "output-type", msg))
    if not problems:
        problems.extend(_check_graph(raw, feeds))
    return problems


def _node_ptr(raw: Mapping[str, Any], node_id: str) -> str:
    index = next(i for i, n in enumerate(raw["nodes"]) if n["id"] == node_id)
    return f"/nodes/{index}"


def _check_edge(
    i: int,
    edge: Mapping[str, str],
    node_ids: set[str],
    tools: Mapping[str, Tool],
    feeds: dict[str, dict[str, str]],
    entry: list[str],
) -> list[Problem]:
    for end in ("from", "to"):
        if edge[end] not in node_ids:
            return [Problem(f"/edges/{i}/{end}", "unknown-node", f"no node {edge[end]!r}")]
    source, target = tools.get(edge["from"]), tools.get(edge["to"])
    if target is None:
        return []  # already reported as an unknown plugin or tool
    if edge["to"] in entry:
        return [Problem(f"/edges/{i}/to", "edge-into-entry", f"entry {edge['to']!r} has an edge")]
    port = edge.get("input")
    if port is None:
        if len(target.inputs) != 1:
            msg = f"node {edge['to']!r} has several inputs; name one with 'input'"
            return [Problem(f"/edges/{i}", "ambiguous-input", msg)]
        port = next(iter(target.inputs))
    if port not in target.inputs:
        return [Problem(f"/edges/{i}/input", "unknown-input", f"{edge['to']!r} has no {port!r}")]
    if port in feeds[edge["to"]]:
        return [Problem(f"/edges/{i}", "input-fed-twice", f"{edge['to']}.{port} has two edges")]
    if source is not None and source.output != target.inputs[port]:
        msg = (
            f"{edge['from']!r} gives {source.output} but {edge['to']}.{port} "
            f"takes {target.inputs[port]}"
        )
        return [Problem(f"/edges/{i}", "type-mismatch", msg)]
    feeds[edge["to"]][port] = edge["from"]
    return []


def _check_graph(raw: Mapping[str, Any], feeds: Mapping[str, Mapping[str, str]]) -> list[Problem]:
    order = topological_order(raw["entry"], feeds)
    if order is None:
        return [Problem("/edges", "cycle", "the edges form a cycle")]
    problems = []
    used = {src for ports in feeds.values() for src in ports.values()} | set(raw["outputs"])
    for i, node in enumerate(raw["nodes"]):
        if node["id"] not in order:
            problems.append(Problem(f"/nodes/{i}", "unreachable", f"{node['id']!r} is unreachable"))
        elif node["id"] not in used:
            msg = f"{node['id']!r} feeds no node and is not an output"
            problems.append(Problem(f"/nodes/{i}", "unused-node", msg))
    return problems


def compile_definition(raw: Any, registry: Mapping[str, Plugin] | None = None) -> Pipeline:
    """Check a parsed definition and turn it into a runnable Pipeline."""
    registry = get_registry() if registry is None else registry
    problems = check_definition(raw, registry)
    if problems:
        first = problems[0]
        name = raw.get("id", "?") if isinstance(raw, dict) else "?"
        raise PipelineDefinitionError(f"pipeline {name}: {first.pointer}: {first.message}")
    by_id = {n["id"]: n for n in raw["nodes"]}
    feeds: dict[str, dict[str, str]] = {node_id: {} for node_id in by_id}
    for edge in raw["edges"]:
        target = registry[by_id[edge["to"]]["plugin"]].tools[by_id[edge["to"]]["tool"]]
        feeds[edge["to"]][edge.get("input") or next(iter(target.inputs))] = edge["from"]
    for node_id in raw["entry"]:
        tool = registry[by_id[node_id]["plugin"]].tools[by_id[node_id]["tool"]]
        feeds[node_id] = {port: SOURCE for port in tool.inputs}
    order = topological_order(raw["entry"], feeds) or []
    nodes = []
    for node_id in order:
        tool = _tool(registry, by_id[node_id])
        params = merged(tool.params, by_id[node_id].get("params", {}))
        nodes.append(Node(node_id, by_id[node_id]["plugin"], tool, feeds[node_id], params))
    max_side = raw.get("frame_size", {}).get("max_side")
    description, outputs = raw.get("description", ""), tuple(raw["outputs"])
    return Pipeline(raw["id"], description, tuple(nodes), outputs, max_side)


def _tool(registry: Mapping[str, Plugin], node: Mapping[str, Any]) -> Tool:
    return registry[node["plugin"]].tools[node["tool"]]


def read_definition(path: Path) -> Any:
    """Parse one definition file, turning unreadable JSON into a PipelineDefinitionError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PipelineDefinitionError(f"{path.name}: not valid JSON: {exc}") from exc


def definition_paths(directory: Path = DEFINITIONS_DIR) -> list[Path]:
    """All pipeline definition files in a directory, sorted for a stable order."""
    return sorted(directory.glob("*.json"))


@cache
def load_pipelines(directory: Path = DEFINITIONS_DIR) -> dict[str, Pipeline]:
    """Load and compile every definition once per process, keyed by pipeline id."""
    pipelines: dict[str, Pipeline] = {}
    for path in definition_paths(directory):
        pipeline = compile_definition(read_definition(path))
        if pipeline.id != path.stem:
            raise PipelineDefinitionError(f"{path.name}: id {pipeline.id!r} differs from file name")
        pipelines[pipeline.id] = pipeline
    return pipelines

"""Pipeline definitions: load the JSON DAGs, check them against the registry, run them per frame."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from pipelines.errors import PipelineDefinitionError, PipelineError
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
    """A checked node: its tool and, for each input port, the node (or SOURCE) feeding it."""

    id: str
    plugin: str
    tool: Tool
    feeds: Mapping[str, str]


@dataclass(frozen=True)
class Pipeline:
    """A checked pipeline whose nodes are in topological order."""

    id: str
    description: str
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    #: The longest side of the frames the pipeline receives (``frame_size.max_side``); None
    #: means full-size frames. The decoder scales inside ffmpeg, so plugins see this size.
    max_side: int | None = None

    def run(self, frame: Any) -> dict[str, Any]:
        """Run every node on one frame and merge the output nodes' dicts into one result."""
        values: dict[str, Any] = {SOURCE: frame}
        for node in self.nodes:
            kwargs = {port: values[src] for port, src in node.feeds.items()}
            values[node.id] = node.tool.func(**kwargs)
        result: dict[str, Any] = {}
        for node_id in self.outputs:
            output = values[node_id]
            clash = result.keys() & output.keys()
            if clash:
                raise PipelineError(f"pipeline {self.id}: outputs repeat keys {sorted(clash)}")
            result.update(output)
        return result

    def describe(self) -> dict[str, Any]:
        """The client-facing summary: id, description and the nodes with their tools."""
        return {
            "pipeline_id": self.id,
            "description": self.description,
            "nodes": [{"id": n.id, "plugin": n.plugin, "tool": n.tool.name} for n in self.nodes],
            "outputs": list(self.outputs),
        }


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
    order = _topological_order(raw["entry"], feeds)
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


def _topological_order(
    entry: list[str], feeds: Mapping[str, Mapping[str, str]]
) -> list[str] | None:
    """Kahn's algorithm from the entry nodes; None when a cycle is found."""
    waiting = {node: set(ports.values()) for node, ports in feeds.items() if node not in entry}
    order, ready = [], list(entry)
    while ready:
        node = ready.pop(0)
        order.append(node)
        for other, sources in waiting.items():
            if node in sources:
                sources.discard(node)
                if not sources and other not in order and other not in ready:
                    ready.append(other)
    blocked = [n for n, sources in waiting.items() if sources and _on_cycle(n, feeds)]
    return None if blocked else order


def _on_cycle(start: str, feeds: Mapping[str, Mapping[str, str]]) -> bool:
    seen, stack = set(), list(feeds.get(start, {}).values())
    while stack:
        node = stack.pop()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(feeds.get(node, {}).values())
    return False


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
    order = _topological_order(raw["entry"], feeds) or []
    nodes = tuple(
        Node(node_id, by_id[node_id]["plugin"], _tool(registry, by_id[node_id]), feeds[node_id])
        for node_id in order
    )
    max_side = raw.get("frame_size", {}).get("max_side")
    return Pipeline(raw["id"], raw.get("description", ""), nodes, tuple(raw["outputs"]), max_side)


def _tool(registry: Mapping[str, Plugin], node: Mapping[str, str]) -> Tool:
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

"""Check every pipeline definition with the engine's own rules, located to a line and column.

Checked files: ROOT/pipelines/definitions/*.json, ROOT being this repository or `--path DIR`
(a tree laid out like the repository). The registry is always this repository's code.
Rules (location: the key or value the problem is about; a missing one's nearest parent):
  invalid-json    the file is not UTF-8 JSON (located at the decode error)
  unreadable      the file cannot be read at all (1:1)
  duplicate-key   an object repeats a key; json.loads, hence the engine, keeps only the last
  <engine rule>   every Problem of pipelines.engine.check_definition under its own rule name
                  (schema, unknown-plugin, unknown-tool, unknown-entry, unknown-outputs,
                  unknown-node, type-mismatch, unfed-input, cycle, unreachable, ...),
                  located at its JSON pointer; node params: unknown-param (a name the
                  tool does not declare), param-type (wrong JSON type, NaN or infinity),
                  param-range (below the declared minimum or above the maximum)
  id-mismatch     "id" differs from the file name (engine.load_pipelines refuses the file)
  duplicate-id    another definition file has the same "id"
  run-error       a definition the engine accepts fails when run as one job on synthetic
                  frames (e.g. two output nodes returning the same keys, or a stateful
                  tool that cannot take its own previous output)
Usage: python tools/validate_pipelines.py [--path DIR]
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import warnings
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.decoder import scanstring
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make the `tools` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.validate_plugins import base_samples, load_registry
from tools.validator_common import (
    UsageError,
    Violation,
    build_parser,
    parse_args,
    relative_posix,
    report,
    resolve_root,
    usage_error,
)

if TYPE_CHECKING:  # imported lazily at run time, so that a broken plugin is reported, not raised
    from pipelines.registry import Plugin

TOOL = "validate_pipelines"
DEFINITIONS = Path("pipelines", "definitions")
_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:Infinity|\d[0-9.eE+-]*)|true|false|null|NaN")
IdSite = tuple[str, str, int, int]  # (id, file, line, col)


@dataclass
class JsonNode:
    """Where a JSON value starts, and its children: key -> (key offset, value), or items."""

    offset: int
    members: dict[str, tuple[int, JsonNode]] = field(default_factory=dict)
    items: list[JsonNode] = field(default_factory=list)


class _Scanner:
    """Mirror of a document json.loads accepted, keeping each value's and key's offset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.duplicates: list[tuple[int, str]] = []

    def skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        return match.end() if match else pos

    def value(self, pos: int) -> tuple[JsonNode, int]:
        pos = self.skip(pos)
        node, opener = JsonNode(pos), self.text[pos]
        if opener == '"':
            return node, scanstring(self.text, pos + 1)[1]
        if opener not in "{[":
            match = _SCALAR.match(self.text, pos)
            return node, match.end() if match else pos + 1
        closer = "}" if opener == "{" else "]"
        pos = self.skip(pos + 1)
        while self.text[pos] != closer:
            if opener == "{":
                key_at = self.skip(pos)
                key, pos = scanstring(self.text, key_at + 1)
                child, pos = self.value(self.skip(pos) + 1)  # past the ':'
                if key in node.members:
                    self.duplicates.append((key_at, key))
                node.members[key] = (key_at, child)  # the last one wins, as in json.loads
            else:
                child, pos = self.value(pos)
                node.items.append(child)
            pos = self.skip(pos)
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return node, pos + 1


def scan(text: str) -> tuple[JsonNode, list[tuple[int, str]]]:
    """Map a valid JSON text: its root node and the (offset, key) of each repeated key."""
    scanner = _Scanner(text)
    return scanner.value(0)[0], scanner.duplicates


def locate(root: JsonNode, pointer: str) -> int:
    """Offset of a JSON pointer's target: a member's key, an item's value, else nearest parent."""
    offset, node = root.offset, root
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if token in node.members:
            offset, node = node.members[token]
        elif token.isdigit() and int(token) < len(node.items):
            node = node.items[int(token)]
            offset = node.offset
        else:
            break
    return offset


def position(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of offset, counted as json.JSONDecodeError counts them."""
    newline: Any = b"\n" if isinstance(text, bytes) else "\n"
    return text.count(newline, 0, offset) + 1, offset - text.rfind(newline, 0, offset)


def _engine() -> ModuleType:
    return importlib.import_module("pipelines.engine")


def _read_failure(rel: str, path: Path, exc: Exception) -> Violation:
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        return Violation(rel, cause.lineno, cause.colno, "invalid-json", cause.msg)
    if isinstance(cause, UnicodeDecodeError):
        line, col = position(path.read_bytes(), cause.start)
        return Violation(rel, line, col, "invalid-json", f"not UTF-8: {cause.reason}")
    return Violation(rel, 1, 1, "unreadable", str(cause or exc))


def _smoke_run(raw: Any, registry: Mapping[str, Plugin]) -> str | None:
    """Run an accepted definition as one job over synthetic frames; the failure, if any.

    The frames go through one run in turn, twice, so stateful tools see both
    ``previous=None`` and their own output for the frame before (frame_index 0 to 5).
    """
    try:
        job_run = _engine().compile_definition(raw, registry).start()
    except Exception as exc:
        return f"compiling failed: {exc}"
    frames = list(base_samples()["frame"].items())
    for label, frame in frames + frames:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tool warnings are validate_plugins' business
                job_run.run(frame.copy())
        except Exception as exc:
            return f"running on the {label} synthetic frame failed: {exc}"
    return None


def check_file(
    path: Path, root: Path, registry: Mapping[str, Plugin]
) -> tuple[list[Violation], IdSite | None]:
    """Violations of one definition file, and where it declares its id (for duplicate-id)."""
    engine, rel = _engine(), relative_posix(path, root)
    try:
        raw = engine.read_definition(path)
    except engine.PipelineDefinitionError as exc:
        return [_read_failure(rel, path, exc)], None
    text = path.read_text(encoding="utf-8")
    tree, duplicates = scan(text)

    def at(pointer: str, rule: str, message: str) -> Violation:
        return Violation(rel, *position(text, locate(tree, pointer)), rule, message)

    repeated = "key {!r} repeats; only the last counts"
    found = [
        Violation(rel, *position(text, o), "duplicate-key", repeated.format(k))
        for o, k in duplicates
    ]
    problems = engine.check_definition(raw, registry)
    found += [at(p.pointer, p.rule, p.message) for p in problems]
    pipeline_id = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(pipeline_id, str):
        return found, None
    if pipeline_id != path.stem:
        msg = f"id {pipeline_id!r} differs from the file name {path.name!r}"
        found.append(at("/id", "id-mismatch", msg))
    if not problems:
        failure = _smoke_run(raw, registry)
        if failure:
            found.append(at("/outputs", "run-error", failure))
    return found, (pipeline_id, rel, *position(text, locate(tree, "/id")))


def check_tree(root: Path, registry: Mapping[str, Plugin]) -> list[Violation]:
    """Violations of every file in root/pipelines/definitions, ids compared across files."""
    violations: list[Violation] = []
    sites: dict[str, list[IdSite]] = defaultdict(list)
    for path in _engine().definition_paths(root / DEFINITIONS):
        found, site = check_file(path, root, registry)
        violations.extend(found)
        if site:
            sites[site[0]].append(site)
    for pipeline_id, same in sites.items():
        for _, rel, line, col in same if len(same) > 1 else []:
            others = ", ".join(s[1] for s in same if s[1] != rel)
            violations.append(
                Violation(rel, line, col, "duplicate-id", f"id {pipeline_id!r} is also in {others}")
            )
    return violations


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline validator; return 0 clean, 1 violations, 2 usage error."""
    parser = build_parser(TOOL, "Check the pipeline definitions against the engine's rules.")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    try:
        root = resolve_root(args.path)
        if not (root / DEFINITIONS).is_dir():
            raise UsageError(f"{root / DEFINITIONS} is not a directory")
    except UsageError as exc:
        return usage_error(TOOL, str(exc))
    registry, failures = load_registry()
    if registry is None:
        return report(TOOL, failures)
    return report(TOOL, check_tree(root, registry))


if __name__ == "__main__":
    sys.exit(main())

"""Tests for tools/validate_pipelines.py."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines import registry as real_registry
from pipelines.registry import Plugin, Tool
from tools import validate_pipelines as vp

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFS = "pipelines/definitions"

# Line numbers below refer to this layout: 4-6 nodes, 9-10 edges, 12 entry, 13 outputs.
TEMPLATE = """\
{
  "id": "NAME",
  "nodes": [
    {"id": "thumb", "plugin": "image_basics", "tool": "thumbnail"},
    {"id": "luma", "plugin": "image_basics", "tool": "luminance"},
    {"id": "exposure", "plugin": "frame_stats", "tool": "exposure"}
  ],
  "edges": [
    {"from": "thumb", "to": "luma"},
    {"from": "luma", "to": "exposure"}
  ],
  "entry": ["thumb"],
  "outputs": ["exposure"]
}
"""

COLOUR = """\
{"id": "colour", "description": "colourfulness only",
 "nodes": [{"id": "c", "plugin": "frame_stats", "tool": "colourfulness"}],
 "edges": [], "entry": ["c"], "outputs": ["c"]}
"""


def definition(pipeline_id: str, *edits: tuple[str, str]) -> str:
    """TEMPLATE with the given id and each (old, new) replacement applied once."""
    text = TEMPLATE.replace('"NAME"', f'"{pipeline_id}"')
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def where(text: str, line: int, needle: str, nth: int = 1) -> str:
    """`line:col` of the nth needle on a 1-based line of text (col 1-based)."""
    row, col = text.splitlines()[line - 1], -1
    for _ in range(nth):
        col = row.index(needle, col + 1)
    return f"{line}:{col + 1}"


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """A clean definitions tree (exposure, colour) plus the given files."""
    folder = root / DEFS
    folder.mkdir(parents=True)
    clean = {"exposure.json": definition("exposure"), "colour.json": COLOUR}
    for name, content in {**clean, **files}.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = vp.main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes
) -> tuple[int, list[str]]:
    """Run the validator on the clean tree plus broken.json holding text."""
    return run(capsys, "--path", str(make_tree(tmp_path, {"broken.json": text})))


def test_clean_tree_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--path", str(make_tree(tmp_path, {}))) == (0, [])


def test_broken_file_report_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = definition("broken", ('"tool": "exposure"', '"tool": "nope"'))
    assert broken(tmp_path, capsys, text) == (
        1,
        [f"{DEFS}/broken.json:6:49: unknown-tool: plugin 'frame_stats' has no tool 'nope'"],
    )


TO_EXPOSURE = '{"from": "luma", "to": "exposure"}'
GHOST = '{"id": "ghost", "plugin": "image_basics", "tool": "thumbnail"}'
LUMA = '{"id": "luma", "plugin": "image_basics", "tool": "luminance"}'


def case(name: str, rule: str, at: tuple[Any, ...], *edits: tuple[str, str]) -> Any:
    """One broken definition: TEMPLATE edits, and where (line, needle[, nth]) rule applies."""
    return pytest.param(edits, at, rule, id=name)


CASES = [
    case("extra key", "schema", (1, "{"), ('"nodes": [', '"version": 2, "nodes": [')),
    case("missing key", "schema", (1, "{"), ('  "entry": ["thumb"],\n', "")),
    case("missing node key", "schema", (5, "{"), (', "tool": "luminance"', "")),
    case("wrong type", "schema", (13, '"outputs"'), ('["exposure"]', '"exposure"')),
    case(
        "frame size too small",
        "schema",
        (3, '"max_side"'),
        ('"nodes": [', '"frame_size": {"max_side": 8}, "nodes": ['),
    ),
    case(
        "frame size without max_side",
        "schema",
        (3, '"frame_size"'),
        ('"nodes": [', '"frame_size": {"side": 160}, "nodes": ['),
    ),
    case("unknown entry", "unknown-entry", (12, '"gone"'), ('["thumb"]', '["thumb", "gone"]')),
    case(
        "unknown output",
        "unknown-outputs",
        (13, '"gone"'),
        ('["exposure"]', '["exposure", "gone"]'),
    ),
    case("unknown plugin", "unknown-plugin", (6, '"plugin"'), ('"frame_stats"', '"nope"')),
    case("unknown tool", "unknown-tool", (5, '"tool"'), ('"luminance"', '"nope"')),
    case("unknown node", "unknown-node", (10, '"from"'), ('"from": "luma"', '"from": "lumen"')),
    case("type mismatch", "type-mismatch", (10, "{"), ('"from": "luma"', '"from": "thumb"')),
    case("unfed input", "unfed-input", (6, "{"), (",\n    " + TO_EXPOSURE, "")),
    case(
        "edge into entry",
        "edge-into-entry",
        (10, '"to"', 2),
        (TO_EXPOSURE, TO_EXPOSURE + ', {"from": "luma", "to": "thumb"}'),
    ),
    case(
        "input fed twice",
        "input-fed-twice",
        (10, TO_EXPOSURE, 2),
        (TO_EXPOSURE, f"{TO_EXPOSURE}, {TO_EXPOSURE}"),
    ),
    case(
        "unknown input port",
        "unknown-input",
        (10, '"input"'),
        (TO_EXPOSURE, '{"from": "luma", "to": "exposure", "input": "grey"}'),
    ),
    case(
        "non-JSON output", "output-type", (13, '"luma"'), ('["exposure"]', '["exposure", "luma"]')
    ),
    case(
        "duplicate node",
        "duplicate-node",
        (6, '"id"', 2),
        ('"tool": "exposure"}', '"tool": "exposure"}, ' + LUMA),
    ),
    case(
        "cycle",
        "cycle",
        (8, '"edges"'),
        ('"thumbnail"}', '"thumbnail"}, ' + GHOST),
        ('"to": "luma"}', '"to": "luma"}, {"from": "ghost", "to": "ghost"}'),
    ),
    case(
        "unused node",
        "unused-node",
        (4, GHOST),
        ('"thumbnail"}', '"thumbnail"}, ' + GHOST),
        ('"to": "luma"}', '"to": "luma"}, {"from": "thumb", "to": "ghost"}'),
    ),
    case("id mismatch", "id-mismatch", (2, '"id"'), ('"id": "broken"', '"id": "other"')),
    case(
        "duplicate key",
        "duplicate-key",
        (6, '"tool"', 2),
        ('"tool": "exposure"', '"tool": "exposure", "tool": "exposure"'),
    ),
]


@pytest.mark.parametrize(("edits", "at", "rule"), CASES)
def test_each_rule_is_reported_where_it_applies(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edits: tuple[tuple[str, str], ...],
    at: tuple[Any, ...],
    rule: str,
) -> None:
    text = definition("broken", *edits)
    code, out = broken(tmp_path, capsys, text)
    assert code == 1
    expected = f"{DEFS}/broken.json:{where(text, *at)}: {rule}: "
    assert any(found.startswith(expected) for found in out), (expected, out)
    assert all(found.startswith(f"{DEFS}/broken.json:") for found in out)


def test_invalid_json_points_at_the_decode_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = definition("broken", ('"to": "luma"},', '"to": "luma"}'))
    assert broken(tmp_path, capsys, text) == (
        1,
        [f"{DEFS}/broken.json:10:5: invalid-json: Expecting ',' delimiter"],
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "1:1: invalid-json: Expecting value"),
        ('\n\n  {"a" 1}', "3:8: invalid-json: Expecting ':' delimiter"),
        (b'{\n  "id": "caf\xe9"}', "2:13: invalid-json: not UTF-8: invalid continuation byte"),
        ("[]", "1:1: schema: [] is not of type 'object'"),
    ],
)
def test_unparsable_or_non_object_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    assert broken(tmp_path, capsys, content) == (1, [f"{DEFS}/broken.json:{expected}"])


def test_duplicate_id_is_reported_in_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = broken(tmp_path, capsys, definition("exposure"))
    assert code == 1
    assert out == [
        f"{DEFS}/broken.json:2:3: duplicate-id: id 'exposure' is also in {DEFS}/exposure.json",
        f"{DEFS}/broken.json:2:3: id-mismatch: id 'exposure' differs from the file name "
        "'broken.json'",
        f"{DEFS}/exposure.json:2:3: duplicate-id: id 'exposure' is also in {DEFS}/broken.json",
    ]


def test_outputs_repeating_keys_fail_the_smoke_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = definition(
        "broken",
        (
            '"tool": "exposure"}',
            '"tool": "exposure"}, {"id": "again", "plugin": "frame_stats", "tool": "exposure"}',
        ),
        (TO_EXPOSURE, TO_EXPOSURE + ', {"from": "luma", "to": "again"}'),
        ('["exposure"]', '["exposure", "again"]'),
    )
    assert broken(tmp_path, capsys, text) == (
        1,
        [
            f"{DEFS}/broken.json:13:3: run-error: running on the textured synthetic frame "
            "failed: pipeline broken: outputs repeat keys "
            "['brightness', 'contrast', 'is_black', 'is_blank']"
        ],
    )


def constant() -> dict[str, float]:
    return {"answer": 42.0}


def test_unreachable_node(tmp_path: Path) -> None:
    """Only a tool without inputs can be unreachable: others get unfed-input or cycle first."""
    registry = real_registry.build_registry()
    registry["sources"] = Plugin(
        "sources", "", {"constant": Tool("constant", constant, {}, "metrics")}
    )
    node = '{"id": "const", "plugin": "sources", "tool": "constant"}'
    text = definition(
        "broken",
        ('"tool": "exposure"}', f'"tool": "exposure"}}, {node}'),
        ('["exposure"]', '["exposure", "const"]'),
    )
    make_tree(tmp_path, {"broken.json": text})
    found = [v.format() for v in vp.check_tree(tmp_path, registry)]
    assert found == [
        f"{DEFS}/broken.json:{where(text, 6, node)}: unreachable: 'const' is unreachable"
    ]


def test_detached_node_is_reported_as_unfed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = definition("broken", ('"thumbnail"}', '"thumbnail"}, ' + GHOST))
    assert broken(tmp_path, capsys, text) == (
        1,
        [
            f"{DEFS}/broken.json:{where(text, 4, GHOST)}: unfed-input: input 'frame' of node "
            "'ghost' is fed by no edge"
        ],
    )


@pytest.mark.parametrize(
    ("pointer", "line", "needle"),
    [
        ("", 1, "{"),
        ("/id", 2, '"id"'),
        ("/nodes", 3, '"nodes"'),
        ("/nodes/1", 5, "{"),
        ("/nodes/2/tool", 6, '"tool"'),
        ("/entry/0", 12, '"thumb"'),
        ("/nodes/9/tool", 3, '"nodes"'),
        ("/nodes/0/bogus", 4, "{"),
        ("/a~1b/c~0d", 2, '"c~d"'),
        ("/a~1b/x", 2, '"a/b"'),
        ("/a~1b/c~0d/x", 2, '"c~d"'),
    ],
)
def test_locate_json_pointers(pointer: str, line: int, needle: str) -> None:
    text = definition("p", ('"id": "p",', '"id": "p", "a/b": {"c~d": 1},'))
    tree, duplicates = vp.scan(text)
    assert duplicates == []
    line_col = vp.position(text, vp.locate(tree, pointer))
    assert f"{line_col[0]}:{line_col[1]}" == where(text, line, needle)


def test_scan_mirrors_json_loads_on_tricky_values() -> None:
    text = '  {"a": [1.5e3, -2, true, null, "x\\"y", {}], "b": {"a": []}, "a": -Infinity}'
    tree, duplicates = vp.scan(text)
    assert [(offset, key) for offset, key in duplicates] == [(text.rindex('"a"'), "a")]
    assert vp.locate(tree, "") == 2
    assert vp.locate(tree, "/a") == text.rindex('"a"')  # the last one, as json.loads keeps
    assert vp.locate(tree, "/b/a") == text.index('"a": []')


def test_real_definitions_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys) == (0, [])


def test_runs_as_a_script_from_the_repo_root() -> None:
    proc = subprocess.run(
        [sys.executable, "tools/validate_pipelines.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout) == (0, "")


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--path", str(tmp_path / "missing"))[0] == 2
    assert run(capsys, "--path", str(tmp_path))[0] == 2  # no pipelines/definitions inside
    assert run(capsys, "--bogus")[0] == 2


def test_registry_failure_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_registry() -> dict[str, Plugin]:
        raise ImportError("no plugins today")

    monkeypatch.setattr(real_registry, "build_registry", broken_registry)
    code, out = run(capsys)
    assert code == 1
    assert len(out) == 1
    assert ": plugin-load: building the registry failed: ImportError: no plugins today" in out[0]


def threshold_flag(gray: Any, threshold: float, strict: bool) -> dict[str, bool]:
    return {"below": bool(gray.mean() < threshold) if strict else True}


def forgets_its_state(gray: Any, previous: dict[str, Any] | None, frame_index: int) -> dict:
    return {"count": previous["total"] + 1 if previous else 1}


def registry_with(tool: Tool) -> dict[str, Plugin]:
    registry = real_registry.build_registry()
    registry["extra"] = Plugin("extra", "", {tool.name: tool})
    return registry


PARAMS_TOOL = Tool(
    "flag",
    threshold_flag,
    {"gray": "gray"},
    "metrics",
    params={
        "threshold": real_registry.Param("number", 0.5, minimum=0, maximum=1),
        "strict": real_registry.Param("boolean", True),
    },
)


@pytest.mark.parametrize(
    ("params", "needle", "rule", "text"),
    [
        ('{"treshold": 0.2}', '"treshold"', "unknown-param", "no parameter 'treshold'"),
        ('{"threshold": "0.2"}', '"threshold"', "param-type", "'0.2' is not a number"),
        ('{"strict": 1}', '"strict"', "param-type", "1 is not a boolean"),
        ('{"threshold": 1.5}', '"threshold"', "param-range", "1.5 is above the maximum 1"),
    ],
)
def test_node_params_are_checked_where_they_are_written(
    tmp_path: Path, params: str, needle: str, rule: str, text: str
) -> None:
    source = '"tool": "exposure"}'
    node = f'{{"id": "flag", "plugin": "extra", "tool": "flag", "params": {params}}}'
    text_json = definition(
        "broken",
        (source, f"{source}, {node}"),
        (TO_EXPOSURE, f'{TO_EXPOSURE}, {{"from": "luma", "to": "flag"}}'),
        ('["exposure"]', '["exposure", "flag"]'),
    )
    make_tree(tmp_path, {"broken.json": text_json})
    found = [v.format() for v in vp.check_tree(tmp_path, registry_with(PARAMS_TOOL))]
    assert found == [
        f"{DEFS}/broken.json:{where(text_json, 6, needle)}: {rule}: parameter "
        f"{needle.strip(chr(34))!r}: {text}"
        if rule != "unknown-param"
        else f"{DEFS}/broken.json:{where(text_json, 6, needle)}: {rule}: {text} "
        "(known: strict, threshold)"
    ]


def test_valid_params_pass(tmp_path: Path) -> None:
    node = '{"id": "flag", "plugin": "extra", "tool": "flag", "params": {"threshold": 0.2}}'
    text = definition(
        "fine",
        ('"tool": "exposure"}', f'"tool": "exposure"}}, {node}'),
        (TO_EXPOSURE, f'{TO_EXPOSURE}, {{"from": "luma", "to": "flag"}}'),
        ('["exposure"]', '["exposure", "flag"]'),
    )
    make_tree(tmp_path, {"fine.json": text})
    assert vp.check_tree(tmp_path, registry_with(PARAMS_TOOL)) == []


def test_a_stateful_tool_is_run_as_one_job_over_several_frames(tmp_path: Path) -> None:
    tool = Tool("count", forgets_its_state, {"gray": "gray"}, "metrics", stateful=True)
    node = '{"id": "count", "plugin": "extra", "tool": "count"}'
    text = definition(
        "broken",
        ('"tool": "exposure"}', f'"tool": "exposure"}}, {node}'),
        (TO_EXPOSURE, f'{TO_EXPOSURE}, {{"from": "luma", "to": "count"}}'),
        ('["exposure"]', '["exposure", "count"]'),
    )
    make_tree(tmp_path, {"broken.json": text})
    found = [v.format() for v in vp.check_tree(tmp_path, registry_with(tool))]
    assert found == [
        f"{DEFS}/broken.json:13:3: run-error: running on the black synthetic frame failed: 'total'"
    ]

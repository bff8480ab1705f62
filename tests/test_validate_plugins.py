"""Tests for tools/validate_plugins.py."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines import registry as real_registry
from pipelines.registry import Plugin, Tool
from tools import validate_plugins as vp

REPO_ROOT = Path(__file__).resolve().parent.parent
THIS_FILE = "tests/test_validate_plugins.py"


def line_of(text: str) -> int:
    """The first line of this file that, stripped, starts with text."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(text))


def def_line(name: str) -> int:
    """The line of `def name(` in this file, found by text search."""
    return line_of(f"def {name}(")


def where(name: str) -> str:
    """The `path:line:col` prefix expected for a tool function defined in this file."""
    return f"{THIS_FILE}:{def_line(name)}:1"


# --- tool functions for the fake registries -------------------------------------------------


def to_gray(frame: np.ndarray) -> np.ndarray:
    return (frame.mean(axis=-1) / 255.0).astype(np.float32)


def gray_stats(gray: np.ndarray) -> dict[str, Any]:
    return {"mean": float(gray.mean()), "dark": bool(gray.mean() < 0.1), "pixels": int(gray.size)}


def summarise(metrics: dict[str, Any]) -> dict[str, Any]:
    return {"fields": len(metrics)}


def numpy_float(gray: np.ndarray) -> dict[str, Any]:
    return {"mean": gray.mean(dtype=np.float64)}  # np.float64: json.dumps takes it silently


def numpy_bool(gray: np.ndarray) -> dict[str, Any]:
    return {"dark": gray.mean() < 0.1}  # np.bool_


def returns_list(gray: np.ndarray) -> list[float]:
    return [float(gray.mean())]


def returns_nan(gray: np.ndarray) -> dict[str, Any]:
    return {"ratio": float(gray.std() / gray.std())}  # 0/0 on the black input


def nested_metrics(gray: np.ndarray) -> dict[str, Any]:
    return {"stats": {"mean": float(gray.mean())}}


def int_keys(gray: np.ndarray) -> dict[Any, Any]:
    return {1: float(gray.mean())}


def wrong_port(image: np.ndarray) -> np.ndarray:
    return image


def extra_kwargs(frame: np.ndarray, **options: Any) -> np.ndarray:
    return frame


def raises(frame: np.ndarray) -> np.ndarray:
    raise ZeroDivisionError("boom")


def gray_as_float64(frame: np.ndarray) -> np.ndarray:
    return frame.mean(axis=-1) / 255.0


def gray_unscaled(frame: np.ndarray) -> np.ndarray:
    return frame.mean(axis=-1).astype(np.float32)


def frame_wrong_dtype(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32)


def mutates(frame: np.ndarray) -> np.ndarray:
    frame[0, 0] = 255
    return frame


def needs_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return dict(metrics)


def unknown_type(frame: np.ndarray) -> np.ndarray:
    return frame


# --- helpers --------------------------------------------------------------------------------


def plugin(name: str, *tools: Tool) -> Plugin:
    return Plugin(name, "test plugin", {t.name: t for t in tools})


def basics() -> Plugin:
    """A clean plugin: frame -> gray -> metrics, plus a tool fed by a derived metrics value."""
    return plugin(
        "basics",
        Tool("to_gray", to_gray, {"frame": "frame"}, "gray"),
        Tool("gray_stats", gray_stats, {"gray": "gray"}, "metrics"),
        Tool("summarise", summarise, {"metrics": "metrics"}, "metrics"),
    )


def check(*plugins: Plugin) -> list[str]:
    """Violations for basics() plus the given plugins, without basics' (none expected)."""
    return [v.format() for v in vp.check_registry({p.name: p for p in (basics(), *plugins)})]


def one_tool(name: str, func: Any, inputs: dict[str, str], output: str) -> list[str]:
    return check(plugin("bad", Tool(name, func, inputs, output)))


# --- tests ----------------------------------------------------------------------------------


def test_clean_plugin_has_no_violations() -> None:
    assert check() == []


def test_real_registry_is_clean() -> None:
    assert vp.check_registry(real_registry.build_registry()) == []


@pytest.mark.parametrize(
    ("func", "output", "rule", "text"),
    [
        (numpy_float, "metrics", "output-type", "value 'mean' is numpy.float64, a numpy scalar"),
        (numpy_bool, "metrics", "output-type", "value 'dark' is numpy.bool, a numpy scalar"),
        (returns_list, "metrics", "output-type", "returns list, not a dict"),
        (nested_metrics, "metrics", "output-type", "value 'stats' is dict; metrics hold only"),
        (int_keys, "metrics", "output-type", "key 1 is int, not str"),
    ],
)
def test_json_output_problems(func: Any, output: str, rule: str, text: str) -> None:
    [found] = one_tool(func.__name__, func, {"gray": "gray"}, output)
    assert found.startswith(f"{where(func.__name__)}: {rule}: bad.{func.__name__}")
    assert text in found


@pytest.mark.parametrize(
    ("func", "output", "text"),
    [
        (gray_as_float64, "gray", "float64 array of shape (48, 64), not float32"),
        (gray_unscaled, "gray", "returns values outside 0..1"),
        (frame_wrong_dtype, "frame", "float32 array of shape (48, 64, 3), not uint8"),
    ],
)
def test_array_output_problems(func: Any, output: str, text: str) -> None:
    [found] = one_tool(func.__name__, func, {"frame": "frame"}, output)
    assert found.startswith(f"{where(func.__name__)}: output-type: bad.{func.__name__}")
    assert text in found


@pytest.mark.parametrize(
    ("func", "inputs", "text"),
    [
        (wrong_port, {"frame": "frame"}, "function takes (image) but inputs are (frame)"),
        (
            extra_kwargs,
            {"frame": "frame"},
            "function takes (frame, **options) but inputs are (frame)",
        ),
        (to_gray, {"frame": "frame", "mask": "gray"}, "takes (frame) but inputs are (frame, mask)"),
    ],
)
def test_signature_must_match_inputs(func: Any, inputs: dict[str, str], text: str) -> None:
    [found] = one_tool("sig", func, inputs, "frame")
    assert found.startswith(f"{where(func.__name__)}: signature: bad.sig")
    assert text in found


def test_unknown_type_is_reported_and_the_tool_not_run() -> None:
    found = one_tool("odd", unknown_type, {"frame": "video"}, "vectors")
    assert found == [
        f"{where('unknown_type')}: unknown-type: bad.odd frame type 'video' is not one of "
        "['codes', 'frame', 'gray', 'metrics', 'shot', 'text_regions', 'texts']",
        f"{where('unknown_type')}: unknown-type: bad.odd output type 'vectors' is not one of "
        "['codes', 'frame', 'gray', 'metrics', 'shot', 'text_regions', 'texts']",
    ]


def test_nan_result_and_numpy_warning() -> None:
    assert one_tool("nan", returns_nan, {"gray": "gray"}, "metrics") == [
        f"{where('returns_nan')}: run-warning: bad.nan warned on the black input: "
        "RuntimeWarning('invalid value encountered in scalar divide')",
        f"{where('returns_nan')}: output-type: bad.nan (metrics) on the black input "
        "json.dumps(allow_nan=False) refuses the result: Out of range float values are not "
        "JSON compliant",
    ]


def test_tool_that_raises() -> None:
    [found] = one_tool("raises", raises, {"frame": "frame"}, "frame")
    assert found == (
        f"{where('raises')}: run-error: bad.raises raised on the textured input: "
        "ZeroDivisionError('boom')"
    )


def test_tool_that_mutates_its_input() -> None:
    [found] = one_tool("mutates", mutates, {"frame": "frame"}, "frame")
    assert found.startswith(f"{where('mutates')}: mutates-input: bad.mutates changed input(s)")


def test_tool_without_inputs() -> None:
    [found] = one_tool("nothing", lambda: {}, {}, "metrics")
    assert found.startswith(f"{THIS_FILE}:")
    assert ": no-inputs: bad.nothing declares no inputs" in found


def test_input_type_nothing_produces() -> None:
    only = plugin("alone", Tool("needs_metrics", needs_metrics, {"metrics": "metrics"}, "metrics"))
    found = [v.format() for v in vp.check_registry({"alone": only})]
    assert found == [
        f"{where('needs_metrics')}: no-sample: alone.needs_metrics: no synthetic input of "
        "type(s) ['metrics'] can be made"
    ]


def test_plugin_without_tools_points_at_the_registry() -> None:
    assert check(plugin("empty")) == [
        "pipelines/registry.py:1:1: no-tools: plugin 'empty' declares no tools"
    ]


def test_plugin_location_is_its_name_in_the_registry_file() -> None:
    lines = (REPO_ROOT / "pipelines/registry.py").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == '"frame_stats": _plugin(')
    col = lines[line - 1].index('"') + 1
    found = [v.format() for v in vp.check_registry({"frame_stats": plugin("frame_stats")})]
    assert found == [
        f"pipelines/registry.py:{line}:{col}: no-tools: plugin 'frame_stats' declares no tools"
    ]


def test_names_must_match_their_keys() -> None:
    tool = Tool("to_gray", to_gray, {"frame": "frame"}, "gray")
    registry = {"alias": Plugin("basics", "", {"gray": tool})}
    assert [v.format() for v in vp.check_registry(registry)] == [
        "pipelines/registry.py:1:1: name-mismatch: registry key 'alias' holds plugin 'basics'",
        f"{where('to_gray')}: name-mismatch: plugin 'alias' lists tool 'to_gray' under 'gray'",
    ]


def test_build_failure_is_a_violation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> dict[str, Plugin]:
        raise RuntimeError("plugin import exploded")

    monkeypatch.setattr(real_registry, "build_registry", broken)
    assert vp.main([]) == 1
    line = line_of('raise RuntimeError("plugin import exploded")')
    assert capsys.readouterr().out.splitlines() == [
        f"{THIS_FILE}:{line}:1: plugin-load: building the registry failed: "
        "RuntimeError: plugin import exploded"
    ]


def test_import_failure_is_a_violation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pipelines.registry", None)
    assert vp.main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith("pipelines/registry.py:1:1: plugin-load: building the registry failed")


def test_main_on_the_real_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert vp.main([]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("argv", [["--path", "."], ["extra"], ["--json"]])
def test_any_argument_is_a_usage_error(argv: list[str]) -> None:
    assert vp.main(argv) == 2


def test_runs_as_a_script() -> None:
    proc = subprocess.run(
        [sys.executable, "tools/validate_plugins.py"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout) == (0, "")


# --- params and per-job state -----------------------------------------------------------------


def with_threshold(gray: np.ndarray, threshold: float) -> dict[str, Any]:
    return {"dark": bool(gray.mean() < threshold)}


def counts_frames(
    gray: np.ndarray, previous: dict[str, Any] | None, frame_index: int
) -> dict[str, Any]:
    return {"frames": (previous["frames"] if previous else 0) + 1}


def trusts_previous_shape(
    gray: np.ndarray, previous: dict[str, Any] | None, frame_index: int
) -> dict[str, Any]:
    return {"frames": previous["count"] + 1 if previous else 1}  # its own key is "frames"


def mutates_previous(
    gray: np.ndarray, previous: dict[str, Any] | None, frame_index: int
) -> dict[str, Any]:
    if previous is not None:
        previous["frames"] += 1
    return {"frames": 1}


def state_tool(name: str, func: Any, **options: Any) -> list[str]:
    return check(plugin("bad", Tool(name, func, {"gray": "gray"}, "metrics", **options)))


def test_params_and_state_that_fit_are_clean() -> None:
    spec = {"threshold": vp_param("number", 0.1, minimum=0, maximum=1)}
    assert state_tool("ok", with_threshold, params=spec) == []
    assert state_tool("ok", counts_frames, stateful=True) == []


def vp_param(*args: Any, **kwargs: Any) -> Any:
    return real_registry.Param(*args, **kwargs)


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (vp_param("float", 0.1), "type 'float' is not one of number, integer, boolean, string"),
        (vp_param("number", "0.1"), "default: '0.1' is not a number"),
        (vp_param("number", 2.0, maximum=1), "default: 2.0 is above the maximum 1"),
        (vp_param("number", 0.5, minimum=1, maximum=0), "has minimum above maximum"),
        (vp_param("string", "x", minimum=0), "is a string but has a minimum or maximum"),
    ],
)
def test_bad_param_specs(spec: Any, text: str) -> None:
    [found] = state_tool("spec", with_threshold, params={"threshold": spec})
    assert found.startswith(f"{where('with_threshold')}: param-spec: bad.spec: parameter")
    assert text in found


def test_a_param_may_not_take_an_input_name_or_previous() -> None:
    found = state_tool("spec", counts_frames, params={"gray": vp_param("number", 1.0)})
    assert any("param-spec" in f and "clashes with an input port" in f for f in found), found


@pytest.mark.parametrize(
    ("func", "options", "text"),
    [
        (to_gray, {"params": {"t": vp_param("number", 1.0)}}, "params are (t)"),
        (with_threshold, {}, "takes (gray, threshold) but inputs are (gray); the engine"),
        (to_gray, {"stateful": True}, "and it is stateful (previous, frame_index)"),
        (counts_frames, {}, "takes (gray, previous, frame_index) but inputs are (gray)"),
    ],
)
def test_signature_counts_params_and_previous(func: Any, options: Any, text: str) -> None:
    found = state_tool("sig", func, **options)
    assert [f.split(": ")[1] for f in found] == ["signature"]
    assert text in found[0]


def test_a_stateful_tool_must_take_its_own_previous_output() -> None:
    [found] = state_tool("state", trusts_previous_shape, stateful=True)
    assert found.startswith(f"{where('trusts_previous_shape')}: run-error: bad.state raised on ")
    assert "after its own previous output: KeyError('count')" in found


def test_a_stateful_tool_must_not_change_its_previous_output() -> None:
    [found] = state_tool("state", mutates_previous, stateful=True)
    assert "mutates-input: bad.state changed input(s) ['previous'] in place" in found

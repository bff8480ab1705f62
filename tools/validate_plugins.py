"""Check every plugin in pipelines.registry: it loads, and its tools do what they declare.

Rules (location: the tool function's file and `def` line; plugin-level rules point at the
plugin's name in pipelines/registry.py):
  plugin-load     importing pipelines.registry or calling build_registry() raised
  name-mismatch   a registry key differs from the plugin's or the tool's own name
  no-tools        a plugin declares no tools
  no-inputs       a tool declares no input ports
  unknown-type    an input or output type is not in pipelines.registry.VALUE_TYPES
  param-spec      a declared param has an unknown type, a default of the wrong type or out
                  of its range, bounds on a non-number, minimum above maximum, or a name
                  that clashes with an input port, `previous` or `frame_index`
  signature       the function's parameters are not exactly the declared input ports, the
                  declared params and, for a stateful tool, `previous` and `frame_index`
  no-sample       no synthetic input can be built for one of the tool's input types
  run-error       the tool raised on a synthetic input
  run-warning     the tool emitted a warning (e.g. numpy's divide by zero) on a synthetic input
  mutates-input   the tool changed an input in place (the engine hands one value to many nodes)
  output-type     the returned value is not of the declared output type; for JSON types:
                  not a dict of str keys that json.dumps(allow_nan=False) takes, or holding
                  numpy scalars
  unchecked-type  a non-JSON output type this validator has no check for (add one here)
Each tool runs on "textured", "black" and "white" synthetic inputs of its declared types,
with its params' defaults: "frame" and "gray" are built here, other types by running a
registered tool that outputs them. A stateful tool runs on them twice in turn, each call
given the previous call's output as `previous=` (None on the first) and `frame_index=`
0, 1, 2..., as in one job.
Usage: python tools/validate_plugins.py   (no options: the registry is code, not a tree)
"""

from __future__ import annotations

import argparse
import copy
import importlib
import inspect
import pickle
import sys
import traceback
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make the `tools` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from tools.validator_common import Violation, parse_args, repo_root, report
from tools.value_checks import TYPE_CHECKS, output_problem

if TYPE_CHECKING:  # imported lazily at run time, so that a broken plugin is reported, not raised
    from pipelines.registry import Plugin, Tool

TOOL = "validate_plugins"
REGISTRY_MODULE = "pipelines.registry"
REGISTRY_FILE = "pipelines/registry.py"
HEIGHT, WIDTH = 48, 64
VARIANTS = ("textured", "black", "white")
Samples = dict[str, dict[str, Any]]  # value type -> variant label -> value
Finding = tuple[str, str]  # (rule, text)
Registry = Mapping[str, "Plugin"]


def base_samples() -> Samples:
    """Deterministic synthetic "frame" and "gray" values: textured, black and white."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    noise = np.random.default_rng(0).integers(0, 40, (HEIGHT, WIDTH, 3))
    textured = np.stack([xs * 3, ys * 4, (xs + ys) * 2], axis=-1) + noise
    frames = dict(zip(VARIANTS, (np.clip(textured, 0, 255), 0, 255), strict=True))
    frame = {k: np.broadcast_to(v, (HEIGHT, WIDTH, 3)).astype(np.uint8) for k, v in frames.items()}
    gray = {k: (v.mean(axis=-1) / 255.0).astype(np.float32) for k, v in frame.items()}
    return {"frame": frame, "gray": gray}


def _in_repo(path: Path) -> str | None:
    if not path.is_file():  # e.g. "<frozen importlib._bootstrap>"
        return None
    try:
        return path.resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return None


def _relative(path: Path) -> str:
    return _in_repo(path) or path.as_posix()


def _plugin_location(name: str) -> tuple[str, int, int]:
    """The first `"name"` literal in the registry module, else its first line."""
    text = (repo_root() / REGISTRY_FILE).read_text(encoding="utf-8")
    offset = text.find(f'"{name}"')
    if offset < 0:
        return REGISTRY_FILE, 1, 1
    return REGISTRY_FILE, text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def _tool_location(func: Callable[..., Any], plugin: str) -> tuple[str, int, int]:
    try:
        source = inspect.getsourcefile(func)
        line = inspect.getsourcelines(func)[1]
    except (TypeError, OSError):
        source = None
    return (_relative(Path(source)), line, 1) if source else _plugin_location(plugin)


def _signature_problem(tool: Tool) -> str | None:
    """The engine calls a tool with one keyword per input and per param, and previous= and
    frame_index= if it is stateful; None when the function takes exactly those."""
    state = ["previous", "frame_index"] if tool.stateful else []
    keywords = [*tool.inputs, *tool.params, *state]
    try:
        params = inspect.signature(tool.func).parameters.values()
    except (TypeError, ValueError) as exc:
        return f"cannot read the function's signature: {exc}"
    named = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    other = [p.name for p in params if p.name not in named]
    if not other and sorted(named) == sorted(keywords):
        return None
    shown = ", ".join(str(p.replace(annotation=p.empty)) for p in params)
    text = f"function takes ({shown}) but inputs are ({', '.join(tool.inputs)})"
    if tool.params:
        text += f", params are ({', '.join(tool.params)})"
    if tool.stateful:
        text += ", and it is stateful (previous, frame_index)"
    return text + "; the engine calls it with one keyword for each"


def _fingerprint(value: Any) -> bytes | None:
    try:
        return pickle.dumps(value)
    except Exception:
        return None


def _inputs(tool: Tool, samples: Samples, label: str) -> dict[str, Any]:
    return {port: copy.deepcopy(samples[t][label]) for port, t in tool.inputs.items()}


def _call(tool: Tool, kwargs: dict[str, Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    """Call a tool as the engine does: its param defaults, and its state if it is stateful."""
    extra = {name: spec.default for name, spec in tool.params.items()}
    if tool.stateful and "previous" not in kwargs:
        extra.update(previous=None, frame_index=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return tool.func(**kwargs, **extra), caught


def _sample(type_name: str, registry: Registry, known: Samples, busy: set[str]) -> bool:
    """Make known[type_name] by running a tool that outputs it; False if none can."""
    if type_name in known:
        return True
    if type_name in busy:
        return False
    busy.add(type_name)
    for tool in (tool for plugin in registry.values() for tool in plugin.tools.values()):
        if tool.output != type_name or not tool.inputs:
            continue
        if not all(_sample(t, registry, known, busy) for t in tool.inputs.values()):
            continue
        try:
            known[type_name] = {k: _call(tool, _inputs(tool, known, k))[0] for k in VARIANTS}
            break
        except Exception:
            continue
    busy.discard(type_name)
    return type_name in known


def _run_tool(
    name: str, tool: Tool, samples: Samples, value_types: Mapping[str, Any]
) -> list[Finding]:
    """Run one tool on every variant; return (rule, text) pairs for what went wrong.

    A stateful tool runs on the variants in turn, twice, each call given its own output of
    the call before, as the engine does for one job's kept frames.
    """
    previous = None
    for frame_index, label in enumerate(VARIANTS * (2 if tool.stateful else 1)):
        kwargs = _inputs(tool, samples, label)
        if tool.stateful:
            kwargs.update(previous=previous, frame_index=frame_index)
        before = {port: _fingerprint(value) for port, value in kwargs.items()}
        try:
            result, caught = _call(tool, kwargs)
        except Exception as exc:
            given = " after its own previous output" if previous is not None else ""
            return [("run-error", f"{name} raised on the {label} input{given}: {exc!r}")]
        previous = result
        warned = f"{name} warned on the {label} input: "
        found = [("run-warning", f"{warned}{w.message!r}") for w in caught[:1]]
        changed = [p for p, v in kwargs.items() if before[p] not in (None, _fingerprint(v))]
        if changed:
            found.append(("mutates-input", f"{name} changed input(s) {changed} in place"))
        problem = output_problem(tool.output, result, value_types)
        if problem:
            found.append(("output-type", f"{name} ({tool.output}) on the {label} input {problem}"))
        if found:
            return found
    return []


def check_tool(
    plugin: str, tool: Tool, registry: Registry, samples: Samples, value_types: Mapping[str, Any]
) -> list[Finding]:
    """Return (rule, text) pairs for one tool's declaration and behaviour."""
    name = f"{plugin}.{tool.name}"
    found: list[Finding] = []
    if not tool.inputs:
        found.append(("no-inputs", f"{name} declares no inputs"))
    for port, type_name in [*tool.inputs.items(), ("output", tool.output)]:
        if type_name not in value_types:
            msg = f"{name} {port} type {type_name!r} is not one of {sorted(value_types)}"
            found.append(("unknown-type", msg))
    spec_problems = importlib.import_module("pipelines.params").spec_problems
    found += [("param-spec", f"{name}: {text}") for text in spec_problems(tool.params, tool.inputs)]
    signature = _signature_problem(tool)
    if signature:
        found.append(("signature", f"{name}: {signature}"))
    if found:
        return found  # a tool whose declaration is wrong is not run
    if not value_types[tool.output].get("json") and tool.output not in TYPE_CHECKS:
        found.append(("unchecked-type", f"{name}: no check for output type {tool.output!r}"))
    missing = [t for t in tool.inputs.values() if not _sample(t, registry, samples, set())]
    if missing:
        msg = f"{name}: no synthetic input of type(s) {sorted(set(missing))} can be made"
        return [*found, ("no-sample", msg)]
    return found + _run_tool(name, tool, samples, value_types)


def check_registry(registry: Registry) -> list[Violation]:
    """Return the violations of every plugin and tool in registry."""
    violations: list[Violation] = []
    samples = base_samples()
    value_types = importlib.import_module(REGISTRY_MODULE).VALUE_TYPES
    for key, plugin in registry.items():
        where = _plugin_location(key)
        if key != plugin.name:
            text = f"registry key {key!r} holds plugin {plugin.name!r}"
            violations.append(Violation(*where, "name-mismatch", text))
        if not plugin.tools:
            violations.append(Violation(*where, "no-tools", f"plugin {key!r} declares no tools"))
        for tool_key, tool in plugin.tools.items():
            at = _tool_location(tool.func, key)
            if tool_key != tool.name:
                text = f"plugin {key!r} lists tool {tool.name!r} under {tool_key!r}"
                violations.append(Violation(*at, "name-mismatch", text))
            for rule, text in check_tool(key, tool, registry, samples, value_types):
                violations.append(Violation(*at, rule, text))
    return violations


def _failure_location(exc: BaseException) -> tuple[str, int, int]:
    """The innermost repository frame (outside tools/) of a failure, else the registry file."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return _relative(Path(exc.filename)), exc.lineno, exc.offset or 1
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        rel = _in_repo(Path(frame.filename))
        if rel and not rel.startswith(("tools/", ".venv/")):
            return rel, frame.lineno or 1, 1
    return REGISTRY_FILE, 1, 1


def load_registry() -> tuple[dict[str, Plugin] | None, list[Violation]]:
    """Import pipelines.registry and build it; a failure becomes a plugin-load violation."""
    try:
        return importlib.import_module(REGISTRY_MODULE).build_registry(), []
    except Exception as exc:
        text = f"building the registry failed: {type(exc).__name__}: {exc}"
        return None, [Violation(*_failure_location(exc), "plugin-load", text)]


def main(argv: list[str] | None = None) -> int:
    """Run the plugin validator; return 0 clean, 1 violations, 2 usage error."""
    parser = argparse.ArgumentParser(prog=TOOL, description="Check the plugins in the registry.")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    registry, violations = load_registry()
    if registry is not None:
        violations = check_registry(registry)
    return report(TOOL, violations)


if __name__ == "__main__":
    sys.exit(main())

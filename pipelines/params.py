"""Node parameters: the specs a tool declares, and the checks of values a pipeline gives them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Parameter types and the Python types of their JSON values (bool is never a number here).
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "string": (str,),
}
_ARTICLE = {"number": "a", "integer": "an", "boolean": "a", "string": "a"}
#: The keyword a stateful tool receives its own output for the previous kept frame under.
PREVIOUS = "previous"
#: The keyword a stateful tool receives the kept frame's index in the decoded stream under.
FRAME_INDEX = "frame_index"
STATE_KEYWORDS = (PREVIOUS, FRAME_INDEX)


@dataclass(frozen=True)
class Param:
    """One tunable of a tool: its JSON type, default and allowed range, set per node in JSON."""

    type: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""

    def problem(self, value: Any) -> tuple[str, str] | None:
        """(rule, message) saying why value does not fit this spec, or None when it does."""
        kinds = PARAM_TYPES.get(self.type)
        if kinds is None:
            return "param-type", f"the spec's type {self.type!r} is unknown"
        numeric = self.type in ("number", "integer")
        wrong_kind = not isinstance(value, kinds) or (numeric and isinstance(value, bool))
        if wrong_kind:
            return "param-type", f"{value!r} is not {_ARTICLE[self.type]} {self.type}"
        if numeric and not math.isfinite(value):
            return "param-type", f"{value!r} is not a finite {self.type}"
        if numeric and self.minimum is not None and value < self.minimum:
            return "param-range", f"{value!r} is below the minimum {self.minimum!r}"
        if numeric and self.maximum is not None and value > self.maximum:
            return "param-range", f"{value!r} is above the maximum {self.maximum!r}"
        return None


def pointer_token(name: str) -> str:
    """Escape a key for use in a JSON pointer (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def value_problems(
    specs: Mapping[str, Param], values: Mapping[str, Any], at: str
) -> list[tuple[str, str, str]]:
    """(pointer, rule, message) for each unknown name or unfit value a node gives its tool."""
    found = []
    for name, value in values.items():
        where = f"{at}/{pointer_token(name)}"
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            found.append((where, "unknown-param", f"no parameter {name!r} (known: {known})"))
            continue
        problem = spec.problem(value)
        if problem:
            found.append((where, problem[0], f"parameter {name!r}: {problem[1]}"))
    return found


def spec_problems(specs: Mapping[str, Param], inputs: Mapping[str, str]) -> list[str]:
    """What is wrong with a tool's own parameter specs (names, defaults, bounds)."""
    found = []
    for name, spec in specs.items():
        if name in inputs or name in STATE_KEYWORDS:
            clash = " or ".join(STATE_KEYWORDS)
            found.append(f"parameter {name!r} clashes with an input port, {clash}")
        if spec.type not in PARAM_TYPES:
            kinds = ", ".join(PARAM_TYPES)
            found.append(f"parameter {name!r} type {spec.type!r} is not one of {kinds}")
            continue
        bounds = (spec.minimum, spec.maximum)
        if spec.type not in ("number", "integer") and bounds != (None, None):
            found.append(f"parameter {name!r} is a {spec.type} but has a minimum or maximum")
        elif None not in bounds and spec.minimum > spec.maximum:  # type: ignore[operator]
            found.append(f"parameter {name!r} has minimum above maximum")
            continue
        problem = spec.problem(spec.default)
        if problem:
            found.append(f"parameter {name!r} default: {problem[1]}")
    return found


def merged(specs: Mapping[str, Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a node's tool is called with: defaults overridden by the node's."""
    return {name: values.get(name, spec.default) for name, spec in specs.items()}

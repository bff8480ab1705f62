"""What each value type that flows along pipeline edges must look like, for validate_plugins.

A tool's output is checked against its declared type: JSON types must be dicts that
json.dumps(allow_nan=False) takes, without numpy scalars; the other types have a check each
in TYPE_CHECKS (a non-JSON type without one is reported as unchecked-type).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    module = "" if type(value).__module__ == "builtins" else f"{type(value).__module__}."
    return module + type(value).__qualname__


def _frame_problem(value: Any) -> str | None:
    ok = isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 3
    if not ok or value.shape[2] != 3:
        return f"returns {_describe(value)}, not uint8 of shape (height, width, 3)"
    return None


def _gray_problem(value: Any) -> str | None:
    if not (isinstance(value, np.ndarray) and value.dtype == np.float32 and value.ndim == 2):
        return f"returns {_describe(value)}, not float32 of shape (height, width)"
    if value.size and not (np.isfinite(value).all() and value.min() >= 0 and value.max() <= 1):
        return "returns values outside 0..1"
    return None


def _flat_numbers_problem(value: Any) -> str | None:
    for key, item in value.items():
        if not isinstance(item, bool | int | float):
            return f"value {key!r} is {_describe(item)}; metrics hold only numbers and booleans"
    return None


def _shot_problem(value: Any) -> str | None:
    shot_state = importlib.import_module("pipelines.plugins.shots").ShotState
    if not isinstance(value, shot_state):
        return f"returns {_describe(value)}, not a ShotState"
    hsv = value.hsv
    if not (isinstance(hsv, np.ndarray) and hsv.ndim == 3 and hsv.shape[0] == 3):
        return f"holds hsv {_describe(hsv)}, not planes of shape (3, height, width)"
    if not 0.0 <= value.score <= 1.0:
        return f"holds score {value.score!r}, outside 0..1"
    return None


#: Checks of a value's shape beyond JSON-ness, per value type; None means the value is fine.
TYPE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "frame": _frame_problem,
    "gray": _gray_problem,
    "metrics": _flat_numbers_problem,
    "shot": _shot_problem,
}


def _numpy_or_key_problem(value: Any, where: str) -> str | None:
    if isinstance(value, np.generic):
        return f"value {where} is {_describe(value)}, a numpy scalar, not a Python one"
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                return f"key {key!r} is {_describe(key)}, not str"
        items = [(f"{where}[{k!r}]" if where else repr(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    return next(filter(None, (_numpy_or_key_problem(v, w) for w, v in items)), None)


def json_problem(value: Any) -> str | None:
    """Why value is not a JSON object the service can store, or None if it is one."""
    if not isinstance(value, dict):
        return f"returns {_describe(value)}, not a dict"
    found = _numpy_or_key_problem(value, "")
    if found:
        return found
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"json.dumps(allow_nan=False) refuses the result: {exc}"
    return None


def output_problem(type_name: str, value: Any, value_types: Mapping[str, Any]) -> str | None:
    """Why value is not of value type type_name, or None if it is."""
    if value_types[type_name].get("json"):
        found = json_problem(value)
        if found:
            return found
    check = TYPE_CHECKS.get(type_name)
    return check(value) if check else None

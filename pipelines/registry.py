"""The one explicit registry of plugins, their tools and the value types tools exchange."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.params import Param
from pipelines.plugins import frame_stats, image_basics, shots

__all__ = ["SOURCE_TYPE", "VALUE_TYPES", "Param", "Plugin", "Tool", "get_registry"]

#: Value types that flow along pipeline edges. ``json`` marks types a pipeline may output.
VALUE_TYPES: dict[str, dict[str, Any]] = {
    "frame": {"json": False, "doc": "RGB uint8 array of shape (height, width, 3)"},
    "gray": {"json": False, "doc": "float32 luminance array of shape (height, width), 0..1"},
    "metrics": {"json": True, "doc": "flat JSON object of numbers and booleans"},
    "shot": {"json": False, "doc": "a kept frame's place in its shot, with its HSV planes"},
}

#: The type every entry node is fed with: the decoded video frame.
SOURCE_TYPE = "frame"


@dataclass(frozen=True)
class Tool:
    """One callable step of a plugin, with the types it takes and returns.

    ``params`` are tunables a pipeline node may set in its JSON; the engine calls ``func``
    with one keyword per input port and per param. A ``stateful`` tool is also given
    ``previous=``, its own output for the previous kept frame of the same job (None first),
    and ``frame_index=``, the kept frame's index in the decoded stream.
    """

    name: str
    func: Callable[..., Any]
    inputs: Mapping[str, str]
    output: str
    description: str = ""
    params: Mapping[str, Param] = field(default_factory=dict)
    stateful: bool = False


@dataclass(frozen=True)
class Plugin:
    """A named group of tools, usually one module."""

    name: str
    description: str
    tools: Mapping[str, Tool] = field(default_factory=dict)

    def tool(self, name: str) -> Tool | None:
        """Return the tool called ``name`` or None."""
        return self.tools.get(name)


def _plugin(name: str, description: str, *tools: Tool) -> Plugin:
    return Plugin(name=name, description=description, tools={t.name: t for t in tools})


def build_registry() -> dict[str, Plugin]:
    """Build the registry; every plugin the service can run is listed here and nowhere else."""
    return {
        "image_basics": _plugin(
            "image_basics",
            "Cheap views of a frame shared by the analysis tools.",
            Tool(
                "thumbnail",
                image_basics.thumbnail,
                {"frame": "frame"},
                "frame",
                "Strided view no larger than 160 px on its longest side (no copy).",
            ),
            Tool(
                "luminance",
                image_basics.luminance,
                {"frame": "frame"},
                "gray",
                "Rec. 601 luma in 0..1.",
            ),
        ),
        "frame_stats": _plugin(
            "frame_stats",
            "Per-frame image quality measures.",
            Tool(
                "exposure",
                frame_stats.exposure,
                {"gray": "gray"},
                "metrics",
                "brightness, contrast and black/blank flags",
            ),
            Tool(
                "sharpness",
                frame_stats.sharpness,
                {"gray": "gray"},
                "metrics",
                "variance of the Laplacian",
            ),
            Tool(
                "colourfulness",
                frame_stats.colourfulness,
                {"frame": "frame"},
                "metrics",
                "Hasler and Suesstrunk colourfulness",
            ),
        ),
        "shots": _plugin(
            "shots",
            "Shot boundaries from HSV differences between kept frames, as PySceneDetect's.",
            Tool(
                "cuts",
                shots.cuts,
                {"frame": "frame"},
                "shot",
                "difference from the previous kept frame and whether a new shot starts",
                params={
                    "cut_score": Param(
                        "number",
                        shots.DEFAULT_CUT_SCORE,
                        minimum=0,
                        maximum=1,
                        doc="scene_score at or above which a new shot starts",
                    ),
                    "min_shot_frames": Param(
                        "integer",
                        shots.DEFAULT_MIN_SHOT_FRAMES,
                        minimum=0,
                        doc="video frames a shot lasts at least before the next cut",
                    ),
                },
                stateful=True,
            ),
            Tool(
                "shot_metrics",
                shots.shot_metrics,
                {"shot": "shot"},
                "metrics",
                "scene_score, is_shot_start and shot_index",
            ),
        ),
    }


_REGISTRY: dict[str, Plugin] | None = None


def get_registry() -> dict[str, Plugin]:
    """Return the process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def warm_up() -> None:
    """Load what the plugins need once per process, before a worker forks its work horses."""
    get_registry()

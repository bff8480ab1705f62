"""The one explicit registry of plugins, their tools and the value types tools exchange."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.params import Param
from pipelines.plugins import codes, frame_stats, image_basics, ocr, shots

log = logging.getLogger(__name__)

__all__ = ["SOURCE_TYPE", "VALUE_TYPES", "Param", "Plugin", "Tool", "get_registry"]

#: Value types that flow along pipeline edges. ``json`` marks types a pipeline may output.
VALUE_TYPES: dict[str, dict[str, Any]] = {
    "frame": {"json": False, "doc": "RGB uint8 array of shape (height, width, 3)"},
    "gray": {"json": False, "doc": "float32 luminance array of shape (height, width), 0..1"},
    "metrics": {"json": True, "doc": "flat JSON object of numbers and booleans"},
    "shot": {"json": False, "doc": "a kept frame's place in its shot, with its HSV planes"},
    "text_regions": {
        "json": True,
        "doc": '{"text_regions": [{"box": [x0, y0, x1, y1], "polygon": [[x, y] x4], '
        '"score": 0..1}]} in frame pixels',
    },
    "texts": {
        "json": True,
        "doc": '{"texts": [{"text": str, "confidence": 0..1, "box": [...], "polygon": [...]}]}',
    },
    "codes": {
        "json": True,
        "doc": '{"codes": [{"kind": "qr"|"ean_13"|..., "text": str, "box": [...], '
        '"polygon": [...]}]}',
    },
}

#: How to install the optional packages that some plugins need.
MODELS_INSTALL_HINT = "install them with: pip install -r requirements-models.txt"

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
    #: Import names of optional packages the tools need; checked without importing them.
    requires: tuple[str, ...] = ()
    install_hint: str = ""
    #: Loads models once per process; called by warm_up() in the worker's parent.
    warm_up: Callable[[], None] | None = None

    def tool(self, name: str) -> Tool | None:
        """Return the tool called ``name`` or None."""
        return self.tools.get(name)

    def missing(self) -> list[str]:
        """The required import names that cannot be found (nothing is imported to tell)."""
        return [name for name in self.requires if not _importable(name)]

    def available(self) -> bool:
        """Whether every required package is installed."""
        return not self.missing()

    def unavailable_reason(self) -> str | None:
        """Why the plugin cannot run, with the install hint; None when it can."""
        missing = self.missing()
        if not missing:
            return None
        hint = f"; {self.install_hint}" if self.install_hint else ""
        return f"plugin {self.name!r} needs {', '.join(missing)}, not installed{hint}"


def _importable(name: str) -> bool:
    """Whether ``import name`` would find a module, without running it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _plugin(name: str, description: str, *tools: Tool, **optional: Any) -> Plugin:
    return Plugin(name=name, description=description, tools={t.name: t for t in tools}, **optional)


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
            Tool(
                "full_frame",
                image_basics.full_frame,
                {"frame": "frame"},
                "frame",
                "The decoded frame itself, for a tool that needs its pixels beside another input.",
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
        "ocr": _plugin(
            "ocr",
            "Printed text: PP-OCR detection and recognition models shipped in rapidocr's wheel.",
            Tool(
                "detect",
                ocr.detect,
                {"frame": "frame"},
                "text_regions",
                "text regions: box, 4-point polygon (frame pixels) and detector score",
                params={
                    "min_score": Param(
                        "number",
                        ocr.MIN_REGION_SCORE,
                        0.0,
                        1.0,
                        "regions the detector scores below this are dropped",
                    )
                },
            ),
            Tool(
                "read",
                ocr.read,
                {"frame": "frame", "regions": "text_regions"},
                "texts",
                "the text of each region, with the recogniser's confidence",
                params={
                    "min_confidence": Param(
                        "number",
                        ocr.MIN_CONFIDENCE,
                        0.0,
                        1.0,
                        "texts recognised with less confidence than this are dropped",
                    )
                },
            ),
            requires=ocr.REQUIRES,
            install_hint=MODELS_INSTALL_HINT,
            warm_up=ocr.warm_up,
        ),
        "codes": _plugin(
            "codes",
            "QR codes and 1-D barcodes (EAN, UPC, Code 128, ...) with OpenCV's detectors.",
            Tool(
                "scan",
                codes.scan,
                {"frame": "frame"},
                "codes",
                "decoded codes: kind, text, box and 4-point polygon (frame pixels)",
                params={
                    "qr": Param("boolean", True, doc="look for QR codes"),
                    "barcodes": Param("boolean", True, doc="look for 1-D barcodes"),
                },
            ),
            requires=codes.REQUIRES,
            install_hint=MODELS_INSTALL_HINT,
            warm_up=codes.warm_up,
        ),
    }


_REGISTRY: dict[str, Plugin] | None = None


def get_registry() -> dict[str, Plugin]:
    """Return the process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = build_registry()
    return _REGISTRY


def unavailable_reason(plugin_names: Iterable[str]) -> str | None:
    """Why a pipeline made of these plugins cannot run here (first missing plugin), or None."""
    registry = get_registry()
    for name in dict.fromkeys(plugin_names):
        plugin = registry.get(name)
        reason = plugin.unavailable_reason() if plugin else f"plugin {name!r} is not registered"
        if reason:
            return reason
    return None


def warm_up() -> None:
    """Load what the available plugins need, once per process, before a worker forks."""
    for plugin in get_registry().values():
        if plugin.warm_up is None or not plugin.available():
            continue
        started = time.perf_counter()
        try:
            plugin.warm_up()
        except Exception:
            log.exception("warm-up of plugin %s failed; its jobs will load it again", plugin.name)
            continue
        log.info("plugin %s warmed up in %.2f s", plugin.name, time.perf_counter() - started)

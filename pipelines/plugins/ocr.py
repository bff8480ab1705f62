"""Text in frames with rapidocr's PP-OCR models (shipped inside its wheel, run on onnxruntime).

Two tools, so that a pipeline can keep or drop either half: ``detect`` finds text regions
(four-point polygons in frame pixels with a score) and ``read`` recognises the text of given
regions. rapidocr, onnxruntime and OpenCV are optional packages (``requirements-models.txt``):
this module imports none of them until a tool runs or ``warm_up`` is called, so the registry
and the web tier load without them.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from pipelines.errors import PipelineError

#: Import names the plugin needs; the registry checks them without importing them.
REQUIRES = ("rapidocr", "onnxruntime", "cv2")
#: Default floors of the node params (rapidocr's own defaults).
MIN_REGION_SCORE = 0.5
MIN_CONFIDENCE = 0.5
#: Regions narrower or shorter than this many pixels are not worth recognising.
MIN_REGION_SIDE = 2
#: One intra-op thread: nothing of onnxruntime's own threads is alive when `rq worker`
#: forks its work horse, and one worker process per core uses the machine fully.
_ENGINE_PARAMS: dict[str, Any] = {
    "Global.log_level": "error",
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}

#: What a job sees if this worker lacks the packages (the web checks its own environment).
NOT_INSTALLED = (
    "the ocr pipeline's packages are not installed on this worker; "
    "install requirements-models.txt there"
)
_engine: Any = None
_lock = threading.Lock()


def _blank_720p() -> np.ndarray:
    return np.full((720, 1280, 3), 255, dtype=np.uint8)


def _ocr() -> Any:
    """The process's one RapidOCR object; its models load on first use (or in warm_up)."""
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                raise PipelineError(NOT_INSTALLED) from exc

            _engine = RapidOCR(params=_ENGINE_PARAMS)
        return _engine


def warm_up() -> None:
    """Load both models now (in the worker's parent), not in the first job.

    Each model also runs once at a 720p frame's and a text line's shape: the first run at
    a shape costs several times a later one, and the forked work horses inherit the result.
    """
    engine = _ocr()
    with _lock:
        engine(_blank_720p(), use_det=True, use_cls=False, use_rec=False)
        engine.recognize_txt([_blank_720p()[:48, :320]])


def _bgr(frame: np.ndarray) -> np.ndarray:
    """rapidocr takes OpenCV's channel order; the decoder gives RGB."""
    return np.ascontiguousarray(frame[..., ::-1])


def _region(polygon: np.ndarray, width: int, height: int) -> dict[str, Any]:
    points = np.clip(np.rint(polygon), 0, [width - 1, height - 1]).astype(int)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return {
        "box": [int(x0), int(y0), int(x1), int(y1)],
        "polygon": [[int(x), int(y)] for x, y in points],
    }


def detect(frame: np.ndarray, min_score: float = MIN_REGION_SCORE) -> dict[str, Any]:
    """Text regions of a frame: box [x0, y0, x1, y1], 4-point polygon, detector score."""
    height, width = frame.shape[:2]
    engine = _ocr()
    with _lock:
        found = engine(
            _bgr(frame), use_det=True, use_cls=False, use_rec=False, box_thresh=min_score
        )
    if getattr(found, "boxes", None) is None or not len(found.boxes):
        return {"text_regions": []}
    regions = []
    for polygon, score in zip(found.boxes, found.scores, strict=True):
        region = _region(np.asarray(polygon, dtype=np.float64), width, height)
        regions.append({**region, "score": round(float(score), 4)})
    return {"text_regions": regions}


def read(
    frame: np.ndarray, regions: dict[str, Any], min_confidence: float = MIN_CONFIDENCE
) -> dict[str, Any]:
    """The text of each region whose recognition is at least min_confidence, with its box."""
    engine = _ocr()
    from rapidocr.utils.process_img import get_rotate_crop_image

    bgr, kept, crops = None, [], []
    for region in regions.get("text_regions", []):
        polygon = np.asarray(region["polygon"], dtype=np.float32)
        x0, y0, x1, y1 = region["box"]
        if polygon.shape != (4, 2) or min(x1 - x0, y1 - y0) < MIN_REGION_SIDE:
            continue
        bgr = _bgr(frame) if bgr is None else bgr
        crops.append(get_rotate_crop_image(bgr, polygon))
        kept.append(region)
    if not crops:
        return {"texts": []}
    with _lock:
        recognised = engine.recognize_txt(crops)
    texts = []
    for region, text, confidence in zip(kept, recognised.txts, recognised.scores, strict=True):
        if text.strip() and confidence >= min_confidence:
            texts.append(
                {
                    "text": text,
                    "confidence": round(float(confidence), 4),
                    "box": region["box"],
                    "polygon": region["polygon"],
                }
            )
    return {"texts": texts}

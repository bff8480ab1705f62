"""QR codes and 1-D barcodes (EAN, UPC, Code 128, ...) with OpenCV's own detectors.

OpenCV (``opencv-python-headless``) is optional (``requirements-models.txt``): it is imported
when a tool runs or ``warm_up`` is called, never when the registry loads.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from pipelines.errors import PipelineError

#: Import names the plugin needs; the registry checks them without importing them.
REQUIRES = ("cv2",)
#: OpenCV's barcode detector finds bars of one apparent size per downsampling size: the
#: default (512) suits small or far codes, 256 large or near ones. Both are tried.
BARCODE_DOWNSAMPLING = (512.0, 256.0)
#: Two finds of one code overlap at least this much (intersection over union).
SAME_CODE_IOU = 0.3

#: What a job sees if this worker lacks OpenCV (the web checks its own environment).
NOT_INSTALLED = (
    "the codes pipeline's packages are not installed on this worker; "
    "install requirements-models.txt there"
)
_detectors: dict[str, Any] = {}
_lock = threading.Lock()


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise PipelineError(NOT_INSTALLED) from exc
    return cv2


def _get(name: str) -> Any:
    """The process's detectors, made once: the QR detector and one barcode detector per size."""
    with _lock:
        if not _detectors:
            cv2 = _cv2()
            _detectors["qr"] = cv2.QRCodeDetectorAruco()
            for size in BARCODE_DOWNSAMPLING:
                detector = cv2.barcode.BarcodeDetector()
                detector.setDownsamplingThreshold(size)
                _detectors[f"barcode_{size:g}"] = detector
        return _detectors[name]


def warm_up() -> None:
    """Create the detectors now (in the worker's parent), not in the first job."""
    _get("qr")


def _shape(points: Any, width: int, height: int) -> dict[str, Any]:
    corners = np.clip(np.rint(np.asarray(points, dtype=np.float64).reshape(-1, 2)), 0, None)
    corners = np.minimum(corners, [width - 1, height - 1]).astype(int)
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    return {
        "box": [int(x0), int(y0), int(x1), int(y1)],
        "polygon": [[int(x), int(y)] for x, y in corners],
    }


def _iou(a: list[int], b: list[int]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def _qr_codes(gray: np.ndarray) -> list[dict[str, Any]]:
    detector = _get("qr")
    with _lock:
        ok, texts, points, _ = detector.detectAndDecodeMulti(gray)
    if not ok or points is None:
        return []
    height, width = gray.shape
    return [
        {"kind": "qr", "text": text, **_shape(corners, width, height)}
        for text, corners in zip(texts, points, strict=True)
        if text
    ]


def _barcodes(gray: np.ndarray) -> list[dict[str, Any]]:
    height, width = gray.shape
    found: list[dict[str, Any]] = []
    for size in BARCODE_DOWNSAMPLING:
        detector = _get(f"barcode_{size:g}")
        with _lock:
            ok, texts, kinds, points = detector.detectAndDecodeWithType(gray)
        if not ok or points is None:
            continue
        for text, kind, corners in zip(texts, kinds, points, strict=True):
            if not text:
                continue
            code = {"kind": kind.lower(), "text": text, **_shape(corners, width, height)}
            if not any(
                c["text"] == code["text"] and _iou(c["box"], code["box"]) >= SAME_CODE_IOU
                for c in found
            ):
                found.append(code)
    return found


def scan(frame: np.ndarray, qr: bool = True, barcodes: bool = True) -> dict[str, Any]:
    """Decoded QR codes and barcodes: kind (qr, ean_13, ...), text, box and polygon."""
    cv2 = _cv2()
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    codes = (_qr_codes(gray) if qr else []) + (_barcodes(gray) if barcodes else [])
    return {"codes": codes}

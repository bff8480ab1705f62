"""Shared cheap views of a frame: a strided thumbnail and its luminance."""

from __future__ import annotations

import numpy as np

THUMBNAIL_MAX_SIDE = 160
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """Return a strided view of at most 160 px per side, so later steps touch ~1% of pixels."""
    height, width = frame.shape[:2]
    step = max(1, -(-max(height, width) // THUMBNAIL_MAX_SIDE))
    return frame[::step, ::step]


def luminance(frame: np.ndarray) -> np.ndarray:
    """Return Rec. 601 luma in 0..1 as float32, the base of exposure and sharpness."""
    return frame.astype(np.float32) @ _LUMA_WEIGHTS


def full_frame(frame: np.ndarray) -> np.ndarray:
    """Return the frame itself (no copy), so a node can take full-size pixels from an edge."""
    return frame

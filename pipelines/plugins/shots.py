"""Shot boundaries without a model: each kept frame's HSV difference from the one before.

The score is PySceneDetect's ContentDetector score (the mean absolute difference of the
hue, saturation and value planes, equally weighted, in OpenCV's 8-bit HSV) scaled to 0..1.
A cut is a score at or above ``cut_score`` at least ``min_shot_frames`` video frames after
the current shot's first frame (PySceneDetect's rule, counted in frame indices so that it
means the same at any stride). The tool is stateful: the engine hands it its own output for
the previous kept frame of the same job, which carries that frame's HSV planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ContentDetector's default threshold, 27 on its 0..255 scale.
DEFAULT_CUT_SCORE = round(27.0 / 255.0, 4)
#: ContentDetector's default minimum scene length, in frames.
DEFAULT_MIN_SHOT_FRAMES = 15
_SHIFT = 12  # OpenCV's fixed-point shift for 8-bit HSV
_ROUND = 1 << (_SHIFT - 1)
_DIVISORS = np.arange(256, dtype=np.float64)
_DIVISORS[0] = np.inf  # a divisor of 0 maps to 0, as in OpenCV's tables
#: OpenCV's tables: (255 << 12) / v for saturation, (180 << 12) / (6 * diff) for hue.
_SAT_TABLE = np.rint((255 << _SHIFT) / _DIVISORS).astype(np.int32)
_HUE_TABLE = np.rint((180 << _SHIFT) / (6 * _DIVISORS)).astype(np.int32)
_DIGITS = 6
#: The comparison runs on a strided view no larger than this a side: ~1,600 pixels of a
#: frame already scaled small by ffmpeg (frame_size) tell a cut as well as all of them.
COMPARE_MAX_SIDE = 64


@dataclass(frozen=True)
class ShotState:
    """One kept frame's place in its shot, with the HSV planes the next frame is compared to."""

    hsv: np.ndarray
    score: float
    shot_index: int
    shot_start: int  # frame index of this shot's first kept frame
    is_shot_start: bool


def hsv_planes(frame: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit RGB to HSV (hue 0..179, saturation and value 0..255), same integers.

    Returns an int16 array of shape (3, height, width): hue, saturation, value planes.
    """
    rgb = frame.astype(np.int32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = np.maximum(np.maximum(red, green), blue)
    diff = value - np.minimum(np.minimum(red, green), blue)
    saturation = (diff * _SAT_TABLE[value] + _ROUND) >> _SHIFT
    hue = np.where(
        value == red,
        green - blue,
        np.where(value == green, blue - red + 2 * diff, red - green + 4 * diff),
    )
    hue = (hue * _HUE_TABLE[diff] + _ROUND) >> _SHIFT
    hue += np.where(hue < 0, 180, 0)
    return np.stack([hue, saturation, value]).astype(np.int16)


def content_score(hsv: np.ndarray, before: np.ndarray) -> float:
    """Mean absolute HSV difference, planes weighted equally, in 0..1 (ContentDetector / 255)."""
    if hsv.shape != before.shape:
        return 1.0  # the frame size changed: nothing in common
    total = np.abs(hsv - before).sum(dtype=np.int64)
    return float(total) / (hsv.size * 255.0)


def cuts(
    frame: np.ndarray,
    cut_score: float,
    min_shot_frames: int,
    previous: ShotState | None,
    frame_index: int,
) -> ShotState:
    """Score the frame against the previous kept frame and decide whether a new shot starts."""
    step = -(-max(frame.shape[:2]) // COMPARE_MAX_SIDE)
    hsv = hsv_planes(frame[::step, ::step])
    if previous is None:
        return ShotState(hsv, 0.0, 0, frame_index, True)
    score = content_score(hsv, previous.hsv)
    if score >= cut_score and frame_index - previous.shot_start >= min_shot_frames:
        return ShotState(hsv, score, previous.shot_index + 1, frame_index, True)
    return ShotState(hsv, score, previous.shot_index, previous.shot_start, False)


def shot_metrics(shot: ShotState) -> dict[str, float | int | bool]:
    """The JSON part of a shot state: scene_score, is_shot_start and shot_index."""
    return {
        "scene_score": round(shot.score, _DIGITS),
        "is_shot_start": shot.is_shot_start,
        "shot_index": shot.shot_index,
    }

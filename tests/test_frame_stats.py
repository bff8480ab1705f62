"""The frame_stats plugins on numpy arrays: values a person would expect."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines.engine import load_pipelines
from pipelines.plugins import frame_stats, image_basics


def _solid(value: int | tuple[int, int, int], height: int = 720, width: int = 1280) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = value
    return frame


def _noise(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (720, 1280, 3), dtype=np.uint8)


def test_thumbnail_is_a_small_view_not_a_copy() -> None:
    frame = _noise()
    thumb = image_basics.thumbnail(frame)
    assert max(thumb.shape[:2]) <= image_basics.THUMBNAIL_MAX_SIDE
    assert np.shares_memory(thumb, frame)
    small = _solid(9, 40, 30)
    assert image_basics.thumbnail(small).shape == small.shape


def test_black_frame_is_flagged_black_and_blank() -> None:
    gray = image_basics.luminance(image_basics.thumbnail(_solid(3)))
    stats = frame_stats.exposure(gray)
    assert stats["is_black"] and stats["is_blank"]
    assert stats["brightness"] == pytest.approx(3 / 255, abs=1e-4)


def test_flat_white_frame_is_blank_but_not_black() -> None:
    stats = frame_stats.exposure(image_basics.luminance(_solid(250)))
    assert stats["is_blank"] and not stats["is_black"]
    assert stats["brightness"] == pytest.approx(250 / 255, abs=1e-4)


def test_noise_has_contrast_and_detail_while_flat_has_none() -> None:
    noisy = image_basics.luminance(image_basics.thumbnail(_noise()))
    flat = image_basics.luminance(image_basics.thumbnail(_solid(128)))
    assert frame_stats.exposure(noisy)["contrast"] > 0.1
    assert not frame_stats.exposure(noisy)["is_blank"]
    assert (
        frame_stats.sharpness(noisy)["sharpness"]
        > 100 * frame_stats.sharpness(flat)["sharpness"] + 0.01
    )
    assert frame_stats.sharpness(flat)["sharpness"] == 0.0


def test_blurred_frame_is_less_sharp_than_the_original() -> None:
    gray = image_basics.luminance(_noise()[:160, :160])
    blurred = (gray[:-2, :-2] + gray[1:-1, 1:-1] + gray[2:, 2:] + gray[2:, :-2]) / 4
    assert frame_stats.sharpness(blurred)["sharpness"] < frame_stats.sharpness(gray)["sharpness"]


def test_colourfulness_is_zero_for_grey_and_high_for_saturated_colour() -> None:
    assert frame_stats.colourfulness(_solid(128, 90, 160))["colourfulness"] == 0.0
    stripes = _solid((255, 0, 0), 90, 160)
    stripes[:, ::2] = (0, 0, 255)
    assert frame_stats.colourfulness(stripes)["colourfulness"] > 0.5


def test_default_pipeline_result_is_plain_json_and_repeatable() -> None:
    pipeline = load_pipelines()["frame_stats"]
    first = pipeline.run(_noise(7))
    assert set(first) == {
        "brightness",
        "contrast",
        "sharpness",
        "colourfulness",
        "is_blank",
        "is_black",
    }
    assert all(type(v) in (float, bool) for v in first.values())
    assert json.loads(json.dumps(first)) == first
    assert pipeline.run(_noise(7)) == first

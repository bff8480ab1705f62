"""The shots pipeline: the known cuts of camera-like videos, the same as PySceneDetect's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from flask import Flask
from rq import SimpleWorker
from scenedetect import ContentDetector, SceneManager, StatsManager, open_video

from pipelines.engine import DEFINITIONS_DIR
from pipelines.plugins.shots import DEFAULT_CUT_SCORE, cuts, hsv_planes
from pipelines.service import VideoFilePipelineService
from tests.conftest import submit_video
from tests.shot_videos import BLACK_FRAMES, SHOT_STARTS, write_shot_video

RESULT_KEYS = {
    "timestamp_ms",
    "scene_score",
    "is_shot_start",
    "shot_index",
    "brightness",
    "contrast",
    "is_blank",
    "is_black",
}


@pytest.fixture(scope="module")
def shot_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shot_video(tmp_path_factory.mktemp("shots") / "shots.mp4")


@pytest.fixture(scope="module")
def results(shot_video: Path) -> list[dict[str, Any]]:
    return VideoFilePipelineService().run_on_file(shot_video, "shots")


@pytest.fixture(scope="module")
def pyscenedetect(shot_video: Path) -> tuple[list[int], np.ndarray]:
    """PySceneDetect's ContentDetector with its defaults: scene starts and per-frame scores."""
    manager = SceneManager(StatsManager())
    manager.add_detector(ContentDetector())
    video = open_video(str(shot_video))
    manager.detect_scenes(video)
    starts = [start.frame_num for start, _ in manager.get_scene_list(start_in_scene=True)]
    stats = manager.stats_manager
    scores = [stats.get_metrics(i, ["content_val"])[0] or 0.0 for i in range(video.frame_number)]
    return starts, np.array(scores) / 255.0


def shot_starts(results: list[dict[str, Any]]) -> list[int]:
    return [r["frame_index"] for r in results if r["result"]["is_shot_start"]]


def test_stride_1_finds_exactly_the_known_cuts_as_pyscenedetect_does(
    results: list[dict[str, Any]], pyscenedetect: tuple[list[int], np.ndarray]
) -> None:
    assert [r["frame_index"] for r in results] == list(range(340))
    assert shot_starts(results) == list(SHOT_STARTS)
    assert pyscenedetect[0] == list(SHOT_STARTS)
    for r in results:
        assert r["result"].keys() == RESULT_KEYS
        shots_so_far = sum(1 for start in SHOT_STARTS if start <= r["frame_index"])
        assert r["result"]["shot_index"] == shots_so_far - 1
    assert results[90]["result"]["timestamp_ms"] == pytest.approx(3000.0)


def test_black_frames_between_shots_are_flagged(results: list[dict[str, Any]]) -> None:
    black = [r["frame_index"] for r in results if r["result"]["is_black"]]
    assert black == list(BLACK_FRAMES)
    assert all(r["result"]["is_blank"] for r in results[BLACK_FRAMES.start : BLACK_FRAMES.stop])


def test_scores_follow_pyscenedetect_and_pan_and_fade_stay_far_below_a_cut(
    results: list[dict[str, Any]], pyscenedetect: tuple[list[int], np.ndarray]
) -> None:
    ours = np.array([r["result"]["scene_score"] for r in results])
    theirs = pyscenedetect[1]
    assert ours[0] == 0.0 and ((ours >= 0) & (ours <= 1)).all()
    assert np.abs(ours - theirs).max() < 0.01
    cut = np.isin(np.arange(len(ours)), SHOT_STARTS[1:])
    assert ours[cut].min() > 1.5 * DEFAULT_CUT_SCORE
    assert ours[~cut].max() < 0.5 * DEFAULT_CUT_SCORE  # the slow pan and the dissolve
    assert ours[200:231].max() < 0.5 * DEFAULT_CUT_SCORE  # the one-second dissolve alone


def test_with_a_stride_cuts_land_on_the_first_kept_frame_of_each_shot(
    shot_video: Path, results: list[dict[str, Any]]
) -> None:
    service = VideoFilePipelineService()
    strided = service.run_on_file(shot_video, "shots", frame_stride=3)
    expected = [3 * math.ceil(start / 3) for start in SHOT_STARTS]  # 0, 60, 120, 141, 282
    assert shot_starts(strided) == expected
    assert service.run_on_file(shot_video, "shots", frame_stride=3) == strided
    assert service.run_on_file(shot_video, "shots") == results  # deterministic


def shots_with(tmp_path: Path, **params: Any) -> VideoFilePipelineService:
    """A service whose shots pipeline sets the given params on its cuts node."""
    raw = json.loads((DEFINITIONS_DIR / "shots.json").read_text(encoding="utf-8"))
    next(n for n in raw["nodes"] if n["tool"] == "cuts")["params"] = params
    folder = tmp_path / "_".join(params)
    folder.mkdir()
    (folder / "shots.json").write_text(json.dumps(raw), encoding="utf-8")
    return VideoFilePipelineService(folder)


def test_thresholds_are_node_params_in_the_pipeline_json(tmp_path: Path, shot_video: Path) -> None:
    service = shots_with(tmp_path, min_shot_frames=100)
    results = service.run_on_file(shot_video, "shots")
    assert shot_starts(results) == [0, 120, 280]  # 60 and 140 come too soon after a start
    service = shots_with(tmp_path, cut_score=0.3)  # only the cuts into and out of black
    assert shot_starts(service.run_on_file(shot_video, "shots", frame_stride=4)) == [0, 120, 140]


def test_hsv_planes_are_opencvs_to_the_integer() -> None:
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    every = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
    noise = np.random.default_rng(3).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    for image in (every.reshape(-1, 86, 3), noise):
        expected = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        assert np.array_equal(hsv_planes(image).transpose(1, 2, 0), expected)


def test_a_cut_needs_min_shot_frames_since_the_shot_started() -> None:
    red = np.zeros((8, 8, 3), dtype=np.uint8)
    red[..., 0] = 200
    blue = red[..., ::-1].copy()

    def run(indices: list[int], images: list[np.ndarray]) -> list[tuple[int, bool]]:
        state, found = None, []
        for index, image in zip(indices, images, strict=True):
            state = cuts(image, DEFAULT_CUT_SCORE, 15, state, index)
            found.append((state.shot_index, state.is_shot_start))
        return found

    assert run([0, 14, 15], [red, blue, red]) == [(0, True), (0, False), (1, True)]
    assert run([0, 20, 30], [red, blue, red]) == [(0, True), (1, True), (1, False)]
    assert run([0, 1, 2], [red, red, red]) == [(0, True), (0, False), (0, False)]


@pytest.mark.integration
def test_submit_shots_and_read_where_each_shot_starts(pg_app: Flask, shot_video: Path) -> None:
    client = pg_app.test_client()
    submitted = submit_video(client, shot_video, pipeline_id="shots", frame_stride="2")
    assert submitted.status_code == 202, submitted.json
    job_id = submitted.json["job_id"]
    queue = pg_app.extensions["video_queue"].rq_queue()
    with pg_app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert client.get(f"/video/status/{job_id}").json["status"] == "completed"
    frames = client.get(f"/video/results/{job_id}").json["results"]
    assert [f["frame_index"] for f in frames] == list(range(0, 340, 2))
    assert shot_starts(frames) == list(SHOT_STARTS)  # every cut is on an even frame
    black = [f["frame_index"] for f in frames if f["result"]["is_black"]]
    assert black == list(BLACK_FRAMES)[::2]

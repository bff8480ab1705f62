"""The ocr and codes pipelines end to end, and what a server without their packages says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from rq import SimpleWorker

from pipelines import registry
from pipelines.engine import DEFINITIONS_DIR, check_definition, compile_definition
from pipelines.errors import PipelineError
from pipelines.plugins import codes, ocr
from tests.conftest import REPO, submit_video
from tests.scene_videos import (
    EAN_13,
    FRAMES_PER_SCENE,
    HEIGHT,
    PLATE,
    QR_TEXT,
    SENTENCE,
    WIDTH,
    Box,
    Scene,
    background,
    codes_scene,
    text_scene,
    write_scenes,
)
from tests.test_integration_rq import _stock_worker_command, _worker_env

TEXT_SCENES = [
    text_scene(busy=False),
    text_scene(busy=True),
    Scene(background(busy=False)),
    Scene(background(busy=True, seed=3)),
]
CODE_SCENES = [
    codes_scene(qr=True, ean=False),
    codes_scene(qr=False, ean=True),
    codes_scene(qr=True, ean=True, busy=True),
    Scene(background(busy=True, seed=9)),
]


@pytest.fixture(scope="module")
def text_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("ocr") / "street.mp4", TEXT_SCENES)


@pytest.fixture(scope="module")
def codes_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("codes") / "warehouse.mp4", CODE_SCENES)


def _overlap(found: list[int], drawn: Box) -> float:
    """Intersection over the smaller of the two boxes: 1.0 when one holds the other."""
    width = min(found[2], drawn[2]) - max(found[0], drawn[0])
    height = min(found[3], drawn[3]) - max(found[1], drawn[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((b[2] - b[0]) * (b[3] - b[1]) for b in (found, drawn))
    return width * height / smaller


def _run_job(app: Flask, video: Path, pipeline_id: str) -> list[dict[str, Any]]:
    """Submit, let a real RQ worker run it, and return the results a client reads back."""
    client = app.test_client()
    response = submit_video(
        client, video, pipeline_id=pipeline_id, frame_stride=str(FRAMES_PER_SCENE)
    )
    assert response.status_code == 202, response.json
    job_id = response.json["job_id"]
    queue = app.extensions["video_queue"].rq_queue()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    status = client.get(f"/video/status/{job_id}").json
    assert status["status"] == "completed", status
    return client.get(f"/video/results/{job_id}").json["results"]


def _assert_found(items: list[dict[str, Any]], scene: Scene) -> None:
    """Exactly the drawn strings come back, each boxed inside the frame where it was drawn."""
    assert sorted(item["text"] for item in items) == sorted(scene.drawn)
    for item in items:
        x0, y0, x1, y1 = item["box"]
        assert 0 <= x0 < x1 < WIDTH and 0 <= y0 < y1 < HEIGHT, item
        assert _overlap(item["box"], scene.drawn[item["text"]]) > 0.6, item
        assert len(item["polygon"]) == 4


@pytest.mark.integration
def test_ocr_reads_plate_and_sentence_on_plain_and_busy_backgrounds(
    pg_app: Flask, text_video: Path
) -> None:
    results = _run_job(pg_app, text_video, "ocr")
    assert [r["frame_index"] for r in results] == [0, 3, 6, 9]
    for result, scene in zip(results, TEXT_SCENES, strict=True):
        _assert_found(result["result"]["texts"], scene)
        assert all(0.5 <= t["confidence"] <= 1 for t in result["result"]["texts"])
    assert {t["text"] for t in results[1]["result"]["texts"]} == {PLATE, SENTENCE}
    assert results[2]["result"]["texts"] == results[3]["result"]["texts"] == []


@pytest.mark.integration
def test_codes_decodes_qr_and_ean13_and_nothing_on_a_busy_empty_frame(
    pg_app: Flask, codes_video: Path
) -> None:
    results = _run_job(pg_app, codes_video, "codes")
    assert [r["frame_index"] for r in results] == [0, 3, 6, 9]
    for result, scene in zip(results, CODE_SCENES, strict=True):
        _assert_found(result["result"]["codes"], scene)
    kinds = {c["text"]: c["kind"] for c in results[2]["result"]["codes"]}
    assert kinds == {QR_TEXT: "qr", EAN_13: "ean_13"}
    assert results[3]["result"]["codes"] == []


def test_missing_packages_mark_the_pipeline_unavailable_and_submit_says_how(
    sqlite_app: Flask, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # `import rapidocr` now fails
    client = sqlite_app.test_client()
    listed = {p["pipeline_id"]: p for p in client.get("/video/pipelines").json["pipelines"]}
    assert listed["ocr"]["available"] is False
    assert "rapidocr" in listed["ocr"]["unavailable_reason"]
    assert "pip install -r requirements-models.txt" in listed["ocr"]["unavailable_reason"]
    assert listed["codes"]["available"] is True and listed["codes"]["unavailable_reason"] is None
    assert listed["frame_stats"]["available"] is True
    response = submit_video(client, video_30, pipeline_id="ocr")
    assert response.status_code == 400
    assert "requirements-models.txt" in response.json["detail"]
    assert not any(Path(sqlite_app.config["STORAGE_URL"]).glob("*.mp4"))


def test_warm_up_loads_models_once_and_skips_plugins_that_cannot_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.warm_up()
    engine = ocr._ocr()
    assert engine is not None and codes._get("qr") is not None
    registry.warm_up()
    assert ocr._ocr() is engine  # loaded once per process, not again
    called: list[str] = []
    monkeypatch.setattr(ocr, "warm_up", lambda: called.append("ocr"))
    monkeypatch.setattr(codes, "warm_up", lambda: called.append("codes"))
    monkeypatch.setattr(registry, "_REGISTRY", None)  # rebuilt with the stand-ins
    registry.warm_up()
    assert called == ["ocr", "codes"]
    called.clear()
    monkeypatch.setitem(sys.modules, "cv2", None)
    registry.warm_up()
    assert called == []  # both need OpenCV: neither is warmed up


def test_node_params_are_checked_and_reach_the_tools() -> None:
    raw = json.loads((DEFINITIONS_DIR / "ocr.json").read_text())
    raw["nodes"][1]["params"] = {"min_score": 1.5, "floor": 0.2}
    problems = {(p.pointer, p.rule) for p in check_definition(raw)}
    assert problems == {
        ("/nodes/1/params/min_score", "param-range"),
        ("/nodes/1/params/floor", "unknown-param"),
    }
    raw = json.loads((DEFINITIONS_DIR / "codes.json").read_text())
    raw["nodes"][0]["params"] = {"qr": False}
    frame = np.asarray(codes_scene(qr=True, ean=True).image)
    found = compile_definition(raw).run(frame)["codes"]
    assert [c["kind"] for c in found] == ["ean_13"]


@pytest.mark.integration
def test_stock_rq_worker_warms_up_then_forks_work_horses_that_read_text_and_codes(
    pg_app: Flask, text_video: Path, codes_video: Path
) -> None:
    """Models loaded in the worker's parent still work in each forked work horse."""
    client = pg_app.test_client()
    stride = str(FRAMES_PER_SCENE)
    jobs = {
        "ocr": submit_video(
            client, text_video, pipeline_id="ocr", frame_stride=stride, max_frames="2"
        ),
        "codes": submit_video(client, codes_video, pipeline_id="codes", frame_stride=stride),
    }
    command = [*_stock_worker_command(pg_app), "--burst"]
    done = subprocess.run(
        command, env=_worker_env(pg_app), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    for pipeline_id, scenes in (("ocr", TEXT_SCENES[:2]), ("codes", CODE_SCENES)):
        job_id = jobs[pipeline_id].json["job_id"]
        assert client.get(f"/video/status/{job_id}").json["status"] == "completed", done.stderr
        results = client.get(f"/video/results/{job_id}").json["results"]
        found = [r["result"]["texts" if pipeline_id == "ocr" else "codes"] for r in results]
        assert [sorted(i["text"] for i in items) for items in found] == [
            sorted(s.drawn) for s in scenes
        ]


def test_a_worker_without_the_packages_fails_the_job_with_a_sentence_saying_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs.errors import public_message

    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    monkeypatch.setattr(ocr, "_engine", None)
    monkeypatch.setitem(sys.modules, "rapidocr", None)
    with pytest.raises(PipelineError) as raised:
        ocr.detect(frame)
    assert public_message(raised.value) == ocr.NOT_INSTALLED
    monkeypatch.setattr(codes, "_detectors", {})
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(PipelineError) as raised:
        codes.scan(frame)
    assert "requirements-models.txt" in public_message(raised.value)

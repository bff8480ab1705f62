"""The HTTP API on embedded defaults (SQLite, local storage, in-process queue)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from tests.conftest import submit_video
from webapp import create_app
from webapp.models import JobStatus, transition

REPO = Path(__file__).resolve().parent.parent
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _submit(client: FlaskClient, video: Path, **fields: str) -> TestResponse:
    return submit_video(client, video, **fields)


def _storage_files(app: Flask) -> list[str]:
    root = Path(app.config["STORAGE_URL"])
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def _assert_utc_iso(value: str) -> None:
    assert datetime.fromisoformat(value).utcoffset().total_seconds() == 0
    assert value.endswith("+00:00")


def test_submit_status_results_end_to_end(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    response = _submit(
        client, video_30, pipeline_id="frame_stats", frame_stride="3", max_frames="4"
    )
    assert response.status_code == 202
    assert list(response.json) == ["job_id"] and UUID4.match(response.json["job_id"])
    job_id = response.json["job_id"]
    assert response.headers["Location"] == f"/video/status/{job_id}"
    sqlite_app.extensions["video_queue"].join()

    status = client.get(f"/video/status/{job_id}").json
    assert list(status) == ["job_id", "status", "progress", "created_at", "updated_at"]
    assert (status["job_id"], status["status"], status["progress"]) == (job_id, "completed", 1.0)
    _assert_utc_iso(status["created_at"])
    _assert_utc_iso(status["updated_at"])

    results = client.get(f"/video/results/{job_id}")
    assert results.status_code == 200
    assert list(results.json) == ["job_id", "results", "created_at", "updated_at"]
    assert [r["frame_index"] for r in results.json["results"]] == [0, 3, 6, 9]
    first = results.json["results"][0]["result"]
    assert {"timestamp_ms", "brightness", "sharpness", "colourfulness", "is_black"} <= set(first)
    assert _storage_files(sqlite_app) == [
        f"{job_id}_results.index",
        f"{job_id}_results.json",
    ]


def test_pending_job_reports_zero_progress_and_no_results(
    sqlite_app: Flask, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = sqlite_app.extensions["video_queue"]
    monkeypatch.setattr(queue, "enqueue", lambda job_id: None)  # nothing drains this job
    client = sqlite_app.test_client()
    job_id = _submit(client, video_30, pipeline_id="exposure").json["job_id"]
    status = client.get(f"/video/status/{job_id}").json
    assert (status["status"], status["progress"]) == ("pending", 0.0)
    response = client.get(f"/video/results/{job_id}")
    assert response.status_code == 404 and "pending" in response.json["detail"]


def test_corrupt_mp4_ends_failed_with_a_message(sqlite_app: Flask, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x17" * 5000)
    client = sqlite_app.test_client()
    job_id = _submit(client, corrupt, pipeline_id="frame_stats").json["job_id"]
    sqlite_app.extensions["video_queue"].join()
    status = client.get(f"/video/status/{job_id}").json
    assert (status["status"], status["progress"]) == ("failed", 1.0)
    assert "not a readable MP4/MOV video" in status["error_message"]
    assert "Traceback" not in status["error_message"] and "\n" not in status["error_message"]
    results = client.get(f"/video/results/{job_id}")
    assert results.status_code == 404 and "failed" in results.json["detail"]


@pytest.mark.parametrize(
    ("fields", "body", "detail"),
    [
        ({"pipeline_id": "frame_stats"}, b"not a video at all", "not an MP4"),
        ({"pipeline_id": "frame_stats"}, b"", "empty"),
        ({"pipeline_id": "nope"}, None, "unknown pipeline_id"),
        ({"pipeline_id": "frame_stats", "frame_stride": "0"}, None, "frame_stride"),
        ({"pipeline_id": "frame_stats", "max_frames": "x"}, None, "max_frames"),
        ({"pipeline_id": "frame_stats", "frame_stride": "99999999999"}, None, "frame_stride"),
    ],
)
def test_bad_submissions_get_400_json_and_leave_nothing(
    sqlite_app: Flask, video_30: Path, fields: dict[str, str], body: bytes | None, detail: str
) -> None:
    content = video_30.read_bytes() if body is None else body
    client = sqlite_app.test_client()
    data = {"file": (io.BytesIO(content), "clip.mp4"), **fields}
    response = client.post("/video/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert detail in response.json["detail"]
    assert _storage_files(sqlite_app) == []


def test_missing_file_field_is_400(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().post("/video/submit", data={"pipeline_id": "frame_stats"})
    assert response.status_code == 400 and "missing 'file'" in response.json["detail"]


def test_upload_over_the_limit_is_413_json(sqlite_app: Flask) -> None:
    app = create_app({**sqlite_app.config, "MAX_UPLOAD_MB": 1})
    client = app.test_client()
    upload = FileStorage(io.BytesIO(b"\x00\x00\x00\x18ftypisom" + b"0" * 2_000_000), "big.mp4")
    # Encoded in memory: the test client would spool a body this size to a file it never closes.
    boundary, body = encode_multipart({"file": upload, "pipeline_id": "frame_stats"})
    content_type = f"multipart/form-data; boundary={boundary}"
    response = client.post("/video/submit", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "1 MB" in response.json["detail"]
    assert _storage_files(app) == []


@pytest.mark.parametrize(
    "job_id", ["nope", "6f1c1b7e-3a0e-4c55-9d9e-2b1f0c6a7e41", "1" * 300, "%00"]
)
def test_unknown_or_malformed_ids_are_404_json(sqlite_app: Flask, job_id: str) -> None:
    client = sqlite_app.test_client()
    for path in ("status", "results"):
        response = client.get(f"/video/{path}/{job_id}")
        assert response.status_code == 404
        assert response.is_json and "no job" in response.json["detail"]


def test_every_error_is_json(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    assert client.get("/nowhere").status_code == 404 and client.get("/nowhere").is_json
    wrong_method = client.get("/video/submit")
    assert wrong_method.status_code == 405 and "detail" in wrong_method.json


@pytest.mark.parametrize("queue", ["in-process", "rq"])
def test_database_unreachable_is_503_and_leaves_no_file(
    tmp_path: Path, video_30: Path, queue: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if queue == "rq" else None
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "STORAGE_URL": str(tmp_path / "s"),
            "REDIS_URL": redis_url,
        }
    )
    client = app.test_client()
    response = _submit(client, video_30, pipeline_id="frame_stats")
    assert response.status_code == 503 and "database" in response.json["detail"]
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []
    assert client.get(f"/video/status/{uuid.uuid4()}").status_code == 503
    if queue == "rq":  # the upload was stored, the insert failed, the file was removed
        assert (tmp_path / "s").is_dir()
        assert app.extensions["video_queue"].rq_queue().count == 0


def test_pipelines_lists_the_choices(sqlite_app: Flask) -> None:
    body = sqlite_app.test_client().get("/video/pipelines").json
    by_id = {p["pipeline_id"]: p for p in body["pipelines"]}
    assert {"frame_stats", "exposure"} <= by_id.keys()
    assert body["default_pipeline_id"] == "frame_stats"
    assert {n["tool"] for n in by_id["frame_stats"]["nodes"]} >= {"exposure", "colourfulness"}


def test_restart_resumes_jobs_left_pending_or_running(
    sqlite_app: Flask, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process queue is memory: a new process must pick up what the old one left."""
    client = sqlite_app.test_client()
    with monkeypatch.context() as patch:  # the "old process" dies before draining its queue
        patch.setattr(sqlite_app.extensions["video_queue"], "enqueue", lambda job_id: None)
        stranded = [
            _submit(client, video_30, pipeline_id="exposure", max_frames="2").json["job_id"]
            for _ in range(2)
        ]
    with sqlite_app.app_context():
        transition(uuid.UUID(stranded[1]), [JobStatus.PENDING], JobStatus.RUNNING)

    restarted = create_app(dict(sqlite_app.config))
    restarted_client = restarted.test_client()
    assert restarted_client.get("/video/pipelines").status_code == 200  # any first request
    restarted.extensions["video_queue"].join()
    for job_id in stranded:
        assert restarted_client.get(f"/video/status/{job_id}").json["status"] == "completed"


def test_web_process_never_imports_the_video_stack(tmp_path: Path, video_30: Path) -> None:
    """With RQ the task is enqueued by dotted path: moviepy and the task stay out of the web."""
    from tests.conftest import alembic_config

    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    command.upgrade(alembic_config(db_url), "head")
    script = f"""
import io, sys
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart
from webapp import create_app
app = create_app({{"SQLALCHEMY_DATABASE_URI": {db_url!r}, "STORAGE_URL": {str(tmp_path)!r},
                  "REDIS_URL": "redis://127.0.0.1:1/0"}})
client = app.test_client()
upload = FileStorage(io.BytesIO(open({str(video_30)!r}, "rb").read()), "clip.mp4")
boundary, body = encode_multipart({{"file": upload, "pipeline_id": "exposure"}})
kind = "multipart/form-data; boundary=" + boundary
assert client.post("/video/submit", data=body, content_type=kind).status_code == 503
assert client.get("/video/pipelines").status_code == 200
heavy = ("moviepy", "imageio_ffmpeg", "jobs", "cv2", "rapidocr", "onnxruntime")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print(loaded)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_submission_without_pipeline_id_runs_the_default(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    job_id = _submit(client, video_30, max_frames="2").json["job_id"]
    sqlite_app.extensions["video_queue"].join()
    results = client.get(f"/video/results/{job_id}").json["results"]
    assert [r["frame_index"] for r in results] == [0, 1]
    assert {"sharpness", "colourfulness", "brightness"} <= results[0]["result"].keys()

"""error_message is one fixed public sentence per kind of failure; details go to the log."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from flask import Flask
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import OperationalError

from jobs import errors, tasks
from jobs.tasks import process_video_job
from pipelines.errors import VideoDecodeError
from tests.conftest import submit_video
from webapp.storage import ObjectNotFound, StorageError

FFMPEG_LINE = (
    "cannot decode the video: [vist#0:0/h264 @ 0x558f23386980] Invalid NAL unit size "
    "in /srv/app/data/work/video-job-1/input.mp4"
)
#: What must never reach a client.
LEAKS = re.compile(r"0x[0-9a-f]{6,}|/srv|/tmp|file://|s3://|sqlalche\.me|Traceback|Error:")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ObjectNotFound("no object 'x.mp4' in file:///srv/app/data/video_jobs"),
            errors.UPLOAD_MISSING,
        ),
        (StorageError("S3 get s3://bucket/prefix/x.mp4 failed: 503"), errors.STORAGE_DOWN),
        (OperationalError("SELECT 1", {}, Exception("refused")), errors.DATABASE_DOWN),
        (MemoryError(), errors.OUT_OF_MEMORY),
        (AbandonedJobError("horse gone"), errors.WORKER_LOST),
        (KeyError("/srv/secret/key"), errors.INTERNAL),
        (JobTimeoutException("Task exceeded maximum timeout value (7 seconds)"), None),
        (VideoDecodeError(FFMPEG_LINE), None),
    ],
)
def test_each_kind_maps_to_a_public_sentence(exc: BaseException, expected: str | None) -> None:
    message = errors.public_message(exc, job_timeout=7)
    assert not LEAKS.search(message), message
    if expected is not None:
        assert message == expected
    elif isinstance(exc, JobTimeoutException):
        assert message.startswith("the job timed out after 7 s (JOB_TIMEOUT)")
    else:
        assert message == "cannot decode the video: Invalid NAL unit size in"


def test_scrub_keeps_the_sentence_and_drops_internals() -> None:
    text = "the decoder failed; see https://ffmpeg.org/x or /usr/lib/x.so at 0xdeadbeef00"
    assert errors.scrub(text) == "the decoder failed; see or at"
    assert errors.scrub("the video has no frames") == "the video has no frames"


def _pending_job(app: Flask, video: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(app.extensions["video_queue"], "enqueue", lambda job_id: None)
    response = submit_video(app.test_client(), video, max_frames="2")
    assert response.status_code == 202
    return response.json["job_id"]


def _fail_with(app: Flask, job_id: str, caplog: pytest.LogCaptureFixture) -> tuple[str, str]:
    caplog.set_level(logging.INFO)
    with app.app_context(), pytest.raises(BaseException):  # noqa: B017 - any kind on purpose
        process_video_job(job_id)
    status = app.test_client().get(f"/video/status/{job_id}").json
    assert status["status"] == "failed"
    return status["error_message"], caplog.text


def test_missing_upload_names_no_path(
    sqlite_app: Flask, video_30: Path, monkeypatch, caplog
) -> None:
    job_id = _pending_job(sqlite_app, video_30, monkeypatch)
    (Path(sqlite_app.config["STORAGE_URL"]) / f"{job_id}.mp4").unlink()
    message, logged = _fail_with(sqlite_app, job_id, caplog)
    assert message == errors.UPLOAD_MISSING
    assert f"job {job_id}: failed" in logged and sqlite_app.config["STORAGE_URL"] in logged


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (VideoDecodeError(FFMPEG_LINE), "cannot decode the video: Invalid NAL unit size in"),
        (StorageError("cannot read 'x' from file:///srv/app/data/video_jobs"), errors.STORAGE_DOWN),
        (
            OperationalError("UPDATE jobs", {}, Exception("connection refused")),
            errors.DATABASE_DOWN,
        ),
        (RuntimeError("bug at 0x7f00deadbeef in /srv/app/jobs/x.py"), errors.INTERNAL),
    ],
)
def test_failures_in_the_task_store_the_public_sentence_and_log_details(
    sqlite_app: Flask,
    video_30: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    exc: BaseException,
    expected: str,
) -> None:
    job_id = _pending_job(sqlite_app, video_30, monkeypatch)

    def broken(*args: object) -> list[dict]:
        raise exc

    monkeypatch.setattr(tasks, "_run_pipeline", broken)
    message, logged = _fail_with(sqlite_app, job_id, caplog)
    assert message == expected and not LEAKS.search(message)
    assert f"job {job_id}: failed" in logged and type(exc).__name__ in logged

"""What is kept: the upload goes when its job ends, results stay; prune_jobs removes old jobs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import update

from jobs.cleanup import prune_jobs
from tests.conftest import submit_video
from webapp import create_app
from webapp.extensions import db
from webapp.models import Job, JobRun, JobStatus


def _files(app: Flask) -> set[str]:
    root = Path(app.config["STORAGE_URL"])
    return {p.name for p in root.iterdir()} if root.exists() else set()


def _run(app: Flask, video: Path, **fields: str) -> str:
    client = app.test_client()
    response = submit_video(client, video, **fields)
    assert response.status_code == 202, response.json
    app.extensions["video_queue"].join()
    return response.json["job_id"]


def test_upload_is_deleted_when_the_job_completes_or_fails(
    sqlite_app: Flask, video_30: Path, tmp_path: Path
) -> None:
    done = _run(sqlite_app, video_30, max_frames="2")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    failed = _run(sqlite_app, broken)
    client = sqlite_app.test_client()
    assert client.get(f"/video/status/{done}").json["status"] == "completed"
    assert client.get(f"/video/status/{failed}").json["status"] == "failed"
    assert _files(sqlite_app) == {f"{done}_results.json", f"{done}_results.index"}
    assert len(client.get(f"/video/results/{done}").json["results"]) == 2


def test_keep_uploads_keeps_them(sqlite_app: Flask, video_30: Path) -> None:
    app = create_app({**sqlite_app.config, "KEEP_UPLOADS": True})
    job_id = _run(app, video_30, max_frames="2")
    assert _files(app) == {f"{job_id}.mp4", f"{job_id}_results.json", f"{job_id}_results.index"}


def test_a_pending_job_keeps_its_upload(sqlite_app: Flask, video_30: Path, monkeypatch) -> None:
    monkeypatch.setattr(sqlite_app.extensions["video_queue"], "enqueue", lambda job_id: None)
    job_id = _run(sqlite_app, video_30)
    assert _files(sqlite_app) == {f"{job_id}.mp4"}


def _age(app: Flask, job_id: str, days: float) -> None:
    with app.app_context():
        moment = datetime.now(UTC) - timedelta(days=days)
        db.session.execute(
            update(Job).where(Job.job_id == uuid.UUID(job_id)).values(updated_at=moment)
        )
        db.session.commit()


def _prune_scenario(app: Flask, video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["KEEP_UPLOADS"] = True  # so that prune has uploads to delete as well
    old_done = _run(app, video, max_frames="1")
    recent_done = _run(app, video, max_frames="1")
    with monkeypatch.context() as patch:
        patch.setattr(app.extensions["video_queue"], "enqueue", lambda job_id: None)
        old_pending = _run(app, video)
    _age(app, old_done, 10)
    _age(app, old_pending, 10)
    with app.app_context():
        assert db.session.get(JobRun, uuid.UUID(old_done)) is not None
        assert prune_jobs(30) == 0
        assert prune_jobs(7) == 1
        assert prune_jobs(7) == 0  # nothing left to do
        assert db.session.get(Job, uuid.UUID(old_done)) is None
        assert db.session.get(JobRun, uuid.UUID(old_done)) is None
        assert db.session.get(Job, uuid.UUID(recent_done)).status == JobStatus.COMPLETED
        assert db.session.get(Job, uuid.UUID(old_pending)).status == JobStatus.PENDING
        with pytest.raises(ValueError):
            prune_jobs(-1)
    assert _files(app) == {
        f"{recent_done}.mp4",
        f"{recent_done}_results.json",
        f"{recent_done}_results.index",
        f"{old_pending}.mp4",
    }
    client = app.test_client()
    assert client.get(f"/video/status/{old_done}").status_code == 404
    with app.app_context():
        assert prune_jobs(0) == 1  # every finished job; the pending one stays
    assert _files(app) == {f"{old_pending}.mp4"}


def test_prune_jobs_on_sqlite(sqlite_app: Flask, video_30: Path, monkeypatch) -> None:
    _prune_scenario(sqlite_app, video_30, monkeypatch)


def test_prune_jobs_on_postgresql(pg_app: Flask, video_30: Path, monkeypatch) -> None:
    from rq import SimpleWorker

    queue = pg_app.extensions["video_queue"]

    def run_now(job_id: str) -> None:  # deliver through RQ, run by RQ's own worker
        type(queue).enqueue(queue, job_id)
        rq_queue = queue.rq_queue()
        with pg_app.app_context():
            SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)

    monkeypatch.setattr(queue, "enqueue", run_now, raising=False)
    monkeypatch.setattr(queue, "join", lambda: None, raising=False)
    _prune_scenario(pg_app, video_30, monkeypatch)

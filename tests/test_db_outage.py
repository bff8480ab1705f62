"""PostgreSQL unreachable as a job finishes: retried, or no results file left without a row."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from jobs.tasks import process_video_job
from tests.conftest import submit_video
from tests.tcp_proxy import TcpProxy
from webapp import create_app
from webapp.extensions import db
from webapp.models import Job

OUTAGE_SECONDS = 3.0


@pytest.fixture
def proxy(pg_app: Flask) -> Iterator[TcpProxy]:
    url = sa.make_url(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy
    proxy.stop()


def _worker_app(pg_app: Flask, proxy: TcpProxy, retry_seconds: int) -> Flask:
    """A worker whose only road to PostgreSQL goes through the proxy."""
    url = sa.make_url(pg_app.config["SQLALCHEMY_DATABASE_URI"]).set(
        host="127.0.0.1", port=proxy.port
    )
    return create_app(
        {
            **pg_app.config,
            "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_pre_ping": True,
                "connect_args": {"connect_timeout": 2},
            },
            "DB_RETRY_SECONDS": retry_seconds,
        }
    )


def _cut_after_results_are_written(app: Flask, proxy: TcpProxy, restore_after: float | None):
    """The outage starts the moment the results file is stored, before the row is moved."""
    storage = app.extensions["video_storage"]
    for name in ("put_bytes", "save_fileobj"):
        original = getattr(storage, name)

        def cut(*args, _original=original, **kwargs):
            _original(*args, **kwargs)
            if not str(args[0]).endswith("_results.json"):  # the last results object
                return
            proxy.stop()
            if restore_after is not None:
                threading.Timer(restore_after, proxy.start).start()

        setattr(storage, name, cut)


def _pending_job(pg_app: Flask, video: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(pg_app.extensions["video_queue"], "enqueue", lambda job_id: None)
    response = submit_video(pg_app.test_client(), video, max_frames="3")
    assert response.status_code == 202
    return response.json["job_id"]


def _row(pg_app: Flask, job_id: str) -> Job:
    with pg_app.app_context():
        job = db.session.get(Job, uuid.UUID(job_id))
        db.session.expunge(job)
        return job


def test_completion_waits_out_a_short_outage(
    pg_app: Flask, proxy: TcpProxy, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _pending_job(pg_app, video_30, monkeypatch)
    worker = _worker_app(pg_app, proxy, retry_seconds=30)
    _cut_after_results_are_written(worker, proxy, restore_after=OUTAGE_SECONDS)
    started = time.monotonic()
    with worker.app_context():
        process_video_job(job_id)
        db.engine.dispose()
    assert time.monotonic() - started >= OUTAGE_SECONDS
    assert _row(pg_app, job_id).status == "completed"
    results = pg_app.test_client().get(f"/video/results/{job_id}").json["results"]
    assert [r["frame_index"] for r in results] == [0, 1, 2]


def test_an_outage_longer_than_the_bound_leaves_no_unowned_results(
    pg_app: Flask, proxy: TcpProxy, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _pending_job(pg_app, video_30, monkeypatch)
    worker = _worker_app(pg_app, proxy, retry_seconds=2)
    _cut_after_results_are_written(worker, proxy, restore_after=None)
    storage_root = Path(pg_app.config["STORAGE_URL"])
    with worker.app_context(), pytest.raises(OperationalError):
        process_video_job(job_id)
    proxy.start()
    with worker.app_context():
        db.engine.dispose()
    row = _row(pg_app, job_id)
    assert (row.status, row.output_path) == ("running", None)  # recovery delivers it again
    assert not (storage_root / f"{job_id}_results.json").exists()
    assert not (storage_root / f"{job_id}_results.index").exists()
    assert (storage_root / f"{job_id}.mp4").exists()  # it will run again: upload kept

"""Silent misconfiguration made loud: RQ on the embedded SQLite, a worker on another database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from rq.job import Job as RQJob
from rq.job import JobStatus as RQJobStatus

from tests.conftest import alembic_config, submit_video
from webapp import create_app

REPO = Path(__file__).resolve().parent.parent


def test_rq_mode_refuses_the_embedded_sqlite_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError) as refused:
        create_app()
    message = str(refused.value)
    assert "\n" not in message and "DATABASE_URL" in message and "REDIS_URL" in message


def test_a_worker_refuses_to_start_on_the_embedded_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/0", "PYTHONPATH": str(REPO)}
    env.pop("DATABASE_URL", None)
    started = subprocess.run(  # what `rq worker -c jobs.worker_settings` imports first
        [sys.executable, "-c", "import jobs.worker_settings"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "REDIS_URL is set but DATABASE_URL is not" in started.stderr


def test_rq_mode_with_a_database_url_starts(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert create_app().config["REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_a_worker_on_another_database_fails_the_job_loudly(
    pg_app: Flask, video_30: Path, tmp_path: Path
) -> None:
    response = submit_video(pg_app.test_client(), video_30, max_frames="2")
    job_id = response.json["job_id"]
    other_db = f"sqlite:///{tmp_path / 'worker-own.sqlite3'}"
    command.upgrade(alembic_config(other_db), "head")
    env = {
        **os.environ,
        "DATABASE_URL": other_db,  # not the web's database
        "REDIS_URL": pg_app.config["REDIS_URL"],
        "STORAGE_URL": pg_app.config["STORAGE_URL"],
        "PYTHONPATH": str(REPO),
    }
    rq = Path(sys.executable).parent / "rq"
    done = subprocess.run(
        [str(rq), "worker", "--burst", "--url", env["REDIS_URL"], pg_app.config["QUEUE_NAME"]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert f"job {job_id} has no row in this worker's database" in output
    assert "DATABASE_URL" in output
    rq_job = RQJob.fetch(job_id, connection=pg_app.extensions["video_queue"].rq_queue().connection)
    assert rq_job.get_status() == RQJobStatus.FAILED
    assert "differs from the web process's" in rq_job.latest_result().exc_string

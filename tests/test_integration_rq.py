"""The production shape against the real servers: PostgreSQL rows, Redis/RQ, a real worker."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry

from jobs.tasks import process_video_job
from tests.conftest import submit_video
from webapp.extensions import db
from webapp.models import Job

REPO = Path(__file__).resolve().parent.parent


def _submit(client: FlaskClient, video: Path, **fields: str) -> str:
    response = submit_video(client, video, **fields)
    assert response.status_code == 202, response.json
    return response.json["job_id"]


def _run_worker(app: Flask) -> None:
    """Drain the app's queue with RQ's SimpleWorker, in burst mode, in this process."""
    queue = app.extensions["video_queue"].rq_queue()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_submit_is_queued_with_the_job_id_only(pg_app: Flask, video_30: Path) -> None:
    client = pg_app.test_client()
    job_id = _submit(client, video_30, pipeline_id="frame_stats")
    queue = pg_app.extensions["video_queue"].rq_queue()
    assert queue.job_ids == [job_id]
    rq_job = RQJob.fetch(job_id, connection=queue.connection)
    assert rq_job.func_name == "jobs.tasks.process_video_job"
    assert rq_job.args == (job_id,) and rq_job.kwargs == {}
    assert rq_job.timeout == pg_app.config["JOB_TIMEOUT"]
    assert client.get(f"/video/status/{job_id}").json["status"] == "pending"


def test_worker_processes_with_stride_and_max_frames(pg_app: Flask, video_30: Path) -> None:
    client = pg_app.test_client()
    job_id = _submit(client, video_30, pipeline_id="frame_stats", frame_stride="3", max_frames="4")
    _run_worker(pg_app)
    status = client.get(f"/video/status/{job_id}").json
    assert (status["status"], status["progress"]) == ("completed", 1.0)
    results = client.get(f"/video/results/{job_id}").json
    assert [r["frame_index"] for r in results["results"]] == [0, 3, 6, 9]
    with pg_app.app_context():
        row = db.session.get(Job, uuid.UUID(job_id))
        assert (row.frame_stride, row.max_frames) == (3, 4)
        assert row.output_path == f"{job_id}_results.json"
        assert row.updated_at >= row.created_at


def test_corrupt_video_fails_in_the_row_and_in_rq(pg_app: Flask, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(20_000))
    client = pg_app.test_client()
    job_id = _submit(client, corrupt, pipeline_id="exposure")
    _run_worker(pg_app)
    status = client.get(f"/video/status/{job_id}").json
    assert status["status"] == "failed"
    assert status["error_message"].startswith("the file is not a readable MP4/MOV video")
    queue = pg_app.extensions["video_queue"].rq_queue()
    assert job_id in FailedJobRegistry(queue=queue).get_job_ids()


def test_completed_job_is_not_processed_again(pg_app: Flask, video_30: Path) -> None:
    client = pg_app.test_client()
    job_id = _submit(client, video_30, pipeline_id="exposure", max_frames="2")
    _run_worker(pg_app)
    before = client.get(f"/video/status/{job_id}").json
    results_file = Path(pg_app.config["STORAGE_URL"]) / f"{job_id}_results.json"
    results_file.write_text('{"results": "untouched"}')
    with pg_app.app_context():
        process_video_job(job_id)
    assert client.get(f"/video/status/{job_id}").json == before
    assert results_file.read_text() == '{"results": "untouched"}'


def test_queue_unreachable_is_503_row_failed_and_no_file(
    postgres_database: str, tmp_path: Path, video_30: Path
) -> None:
    from webapp import create_app
    from webapp.config import normalise_database_url

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(postgres_database),
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "STORAGE_URL": str(tmp_path / "storage"),
        }
    )
    client = app.test_client()
    data = {"file": (io.BytesIO(video_30.read_bytes()), "clip.mp4"), "pipeline_id": "exposure"}
    response = client.post("/video/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 503 and "queue" in response.json["detail"]
    assert list((tmp_path / "storage").iterdir()) == []
    with app.app_context():
        rows = db.session.scalars(db.select(Job).where(Job.input_path.like("%.mp4"))).all()
        failed = [r for r in rows if r.status == "failed" and "queue" in (r.error_message or "")]
        assert len(failed) == 1
        db.session.delete(failed[0])
        db.session.commit()
        db.engine.dispose()


def _worker_env(app: Flask) -> dict[str, str]:
    """The environment a stock worker gets: the same database, Redis and storage as the app."""
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "STORAGE_URL": app.config["STORAGE_URL"],
        "PYTHONPATH": str(REPO),
    }


def _wait_until_running(client: FlaskClient, job_id: str, seconds: float = 60) -> None:
    """Poll the status like a client until a worker has claimed the job."""
    deadline = time.monotonic() + seconds
    while client.get(f"/video/status/{job_id}").json["status"] != "running":
        assert time.monotonic() < deadline, "the worker never started the job"
        time.sleep(0.05)


def _stock_worker_command(app: Flask) -> list[str]:
    """`rq worker`, as the Procfile runs it, on the app's queue."""
    rq = Path(sys.executable).parent / "rq"
    url, queue = app.config["REDIS_URL"], app.config["QUEUE_NAME"]
    return [str(rq), "worker", "-c", "jobs.worker_settings", "--url", url, queue]


def test_stock_rq_worker_runs_the_task_by_dotted_path(pg_app: Flask, video_30: Path) -> None:
    client = pg_app.test_client()
    job_id = _submit(client, video_30, pipeline_id="frame_stats", max_frames="3")
    command = [*_stock_worker_command(pg_app), "--burst"]
    done = subprocess.run(
        command, env=_worker_env(pg_app), cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"job {job_id}: completed" in done.stderr + done.stdout
    status = client.get(f"/video/status/{job_id}").json
    assert status["status"] == "completed"
    results = client.get(f"/video/results/{job_id}").json["results"]
    assert [r["frame_index"] for r in results] == [0, 1, 2]

"""Submit -> completed of a 1-frame video through a stock `rq worker`, against RQ's floor.

Starts the worker exactly as the Procfile's `worker:` line does, on a scratch PostgreSQL
database, the test Redis and a queue of its own (TEST_DATABASE_URL, TEST_REDIS_URL), then
alternates: a no-op RQ job (`os.getpid` by dotted path) timed from enqueue to finished,
and a 1-frame video timed from `POST /video/submit` to its row being `completed`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from harness import Bench, Row, median
from redis import Redis
from rq import Queue, Worker

from tests.conftest import TEST_REDIS_URL, alembic_config, scratch_database, submit_video
from tests.videos import make_video
from webapp import create_app
from webapp.config import normalise_database_url

ROOT = Path(__file__).absolute().parent.parent
_POLL = 0.002


def _until(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        time.sleep(_POLL)


def _worker_line() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("worker:"):
            return line.split(":", 1)[1].strip()
    raise LookupError("the Procfile has no worker line")


def job_start_latency(bench: Bench) -> list[Row]:
    """How much a 1-frame video job adds to RQ's own no-op job, in milliseconds."""
    video = bench.video("one_frame", lambda p: make_video(p, n_frames=1))
    with scratch_database("video_jobs_bench") as url:
        command.upgrade(alembic_config(url), "head")
        queue_name = f"bench_{uuid.uuid4().hex[:10]}"
        config = {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "REDIS_URL": TEST_REDIS_URL,
            "QUEUE_NAME": queue_name,
            "STORAGE_URL": str(bench.workdir / "storage"),
        }
        app = create_app(config)
        env = {
            **os.environ,
            "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": TEST_REDIS_URL,
            "QUEUE_NAME": queue_name,
            "STORAGE_URL": config["STORAGE_URL"],
            "PYTHONPATH": str(ROOT),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        worker = subprocess.Popen(
            ["bash", "-c", f"exec {_worker_line()}"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        redis = Redis.from_url(TEST_REDIS_URL)
        queue = Queue(queue_name, connection=redis)
        rows_db = sa.create_engine(config["SQLALCHEMY_DATABASE_URI"])
        client = app.test_client()

        def noop() -> float:
            started = time.perf_counter()
            job = queue.enqueue("os.getpid")
            _until(lambda: job.get_status(refresh=True) == "finished")
            return time.perf_counter() - started

        def status(job_id: str) -> str:
            with rows_db.connect() as conn:
                query = sa.text("SELECT status FROM jobs WHERE job_id = :id")
                return conn.execute(query, {"id": job_id}).scalar_one()

        def video_job() -> float:
            started = time.perf_counter()
            job_id = submit_video(client, video, pipeline_id="frame_stats").json["job_id"]
            _until(lambda: status(job_id) in ("completed", "failed"))
            elapsed = time.perf_counter() - started
            if status(job_id) != "completed":
                raise RuntimeError("the 1-frame video job failed")
            return elapsed

        try:
            _until(lambda: bool(Worker.all(queue=queue)))
            noop(), video_job()  # the first of each pays one-time costs
            floors, jobs = [], []
            for _ in range(max(5, bench.runs)):
                floors.append(noop())
                jobs.append(video_job())
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            queue.delete(delete_jobs=True)
            redis.close()
            rows_db.dispose()
            with app.app_context():
                from webapp.extensions import db

                db.engine.dispose()
    floor, job = median(floors) * 1000, median(jobs) * 1000
    detail = f"job {job:.0f} ms, RQ no-op {floor:.0f} ms"
    return [
        Row(
            "1-frame video submit -> completed, above RQ's no-op",
            job - floor,
            100,
            False,
            "ms",
            detail,
        )
    ]

"""Redis loses its jobs, a job is delivered twice, a job runs too long: the row decides.

Stock `rq worker` and `rq cron` processes from the Procfile's lines (tests/faults.py), a
real PostgreSQL; Redis is a private redis-server that the test flushes and restarts.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from pipelines.service import VideoFilePipelineService
from tests.faults import fault_video, private_redis, stacks
from webapp.extensions import db
from webapp.models import Job, JobStatus, claim

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fault_video(tmp_path_factory.mktemp("fault_video"))


def _undisturbed(video: Path) -> list[dict[str, Any]]:
    return VideoFilePipelineService().run_on_file(video, "frame_stats", 1, None)


def test_redis_flushed_then_restarted_every_job_is_delivered_again(
    redis_url: str, tmp_path: Path, clip: Path, video_30: Path
) -> None:
    """#6.4: Redis loses everything twice (FLUSHALL, then a restart of a server that keeps
    nothing) while jobs are pending and running; with only the Procfile's processes, every
    job ends completed within 120 s, with the results of an undisturbed run."""
    expected = {clip: _undisturbed(clip), video_30: _undisturbed(video_30)}
    with private_redis(tmp_path) as redis, stacks(redis.url, tmp_path) as (stack,):
        stack.start("clock")
        stack.start("worker")
        for lose in ("flush", "restart"):
            jobs = {stack.submit(clip): clip}
            jobs |= {stack.submit(video_30): video_30 for _ in range(3)}
            first = next(iter(jobs))
            stack.wait_for(first, {"running"}, 60)
            assert [stack.status(j)["status"] for j in jobs].count("pending") == 3
            if lose == "flush":
                with redis.client() as client:
                    client.flushall()
            else:
                redis.restart()
            lost_at = time.monotonic()
            for job_id, video in jobs.items():
                done = stack.wait_for(job_id, {"completed", "failed"}, 120)
                assert done["status"] == "completed", done
                assert stack.results(job_id) == expected[video]
                assert stack.attempts(job_id) == 1
            print(f"redis {lose}: all 4 jobs completed {time.monotonic() - lost_at:.1f} s after")
            assert "delivered again" in stack.logs()
        assert all(p.poll() is None for p in stack.processes), "a Procfile process died"


def test_a_second_delivery_of_a_running_or_completed_job_does_nothing(
    redis_url: str, tmp_path: Path, clip: Path
) -> None:
    """#6.5: the same job id delivered again while a live worker runs it, and after it has
    completed: the second worker claims nothing and runs nothing."""
    with stacks(redis_url, tmp_path) as (stack,):
        stack.start("worker")
        stack.start("worker")
        stack.wait_until(lambda: stack.logs().count("Listening on") >= 2, 60, "no workers")
        job_id = stack.submit(clip)
        queue = stack.app.extensions["video_queue"]
        stack.wait_for(job_id, {"running"}, 60)
        queue.enqueue(job_id)  # a duplicate delivery, to the idle second worker
        stack.wait_until(lambda: "not run again" in stack.logs(), 30, "no second delivery")
        assert stack.status(job_id)["status"] == "running"
        done = stack.wait_for(job_id, {"completed", "failed"}, 120)
        assert done["status"] == "completed"
        results_file = Path(stack.app.config["STORAGE_URL"]) / f"{job_id}_results.json"
        written = results_file.stat().st_mtime_ns
        queue.enqueue(job_id)  # and once more, after it completed
        stack.wait_until(lambda: stack.logs().count("not run again") == 2, 30, "no third one")
        assert stack.status(job_id) == done
        assert results_file.stat().st_mtime_ns == written
        assert stack.attempts(job_id) == 1
        assert stack.logs().count(f"job {job_id}: running pipeline") == 1
        assert stack.logs().count(f"job {job_id}: completed with") == 1


def test_racing_claims_on_one_pending_row_have_one_winner(pg_app: Any) -> None:
    """#6.5: eight deliveries claim the same pending row at the same moment: one wins."""
    with pg_app.app_context():
        job_id = uuid.uuid4()
        db.session.add(Job(job_id=job_id, status="pending", input_path="x", pipeline_id="p"))
        db.session.commit()
        db.session.remove()
    barrier, wins = threading.Barrier(8), []

    def deliver() -> None:
        with pg_app.app_context():
            barrier.wait()
            wins.append(claim(job_id, stale_after=30))
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([w for w in wins if w is not None]) == 1
    with pg_app.app_context():
        assert db.session.get(Job, job_id).status == JobStatus.RUNNING
        assert claim(job_id, stale_after=30) is None  # running and fresh: not taken
        db.session.remove()


def test_job_over_job_timeout_fails_and_is_not_retried(
    redis_url: str, tmp_path: Path, long_video_720p: Path
) -> None:
    """#6.7: JOB_TIMEOUT=1 on a job that needs several seconds: failed, "timed out after
    1 s", and nothing runs it again while recovery keeps running."""
    with stacks(redis_url, tmp_path, JOB_TIMEOUT="1") as (stack,):
        job_id = stack.submit(long_video_720p)
        stack.start("clock")
        stack.start("worker")
        done = stack.wait_for(job_id, {"completed", "failed"}, 60)
        assert done["status"] == "failed", done
        assert "timed out after 1 s" in done["error_message"]
        time.sleep(3 + 1 + 2)  # HEARTBEAT_STALE_SECONDS + RECOVERY_INTERVAL_SECONDS + margin
        assert stack.status(job_id) == done
        assert stack.attempts(job_id) == 1
        queue = stack.app.extensions["video_queue"].rq_queue()
        assert job_id in FailedJobRegistry(queue=queue).get_job_ids()
        assert stack.logs().count(f"job {job_id}: running pipeline") == 1

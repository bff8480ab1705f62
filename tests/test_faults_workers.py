"""Workers die or are stopped mid-job; the job still ends completed, exactly as undisturbed.

Stock `rq worker` processes started from the Procfile's own `worker` and `clock` lines, a
real PostgreSQL and Redis, with heartbeat and recovery intervals lowered (tests/faults.py).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from pipelines.service import VideoFilePipelineService
from tests.faults import Stack, command_name, process_tree, signal_all, stacks

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def undisturbed(long_video_720p: Path) -> list[dict[str, Any]]:
    """The results of the long video, run once with nothing going wrong."""
    return VideoFilePipelineService().run_on_file(long_video_720p, "frame_stats", 1, None)


def _ffmpeg_running(stack: Stack, worker_pid: int) -> bool:
    return any(command_name(p) == "ffmpeg" for p in process_tree(worker_pid))


def test_machine_lost_every_worker_killed_job_completes(
    redis_url: str, tmp_path: Path, long_video_720p: Path, undisturbed: list[dict[str, Any]]
) -> None:
    """#6.1: worker, work horse and ffmpeg SIGKILLed at once; new workers finish the job."""
    with stacks(redis_url, tmp_path) as (stack,):
        job_id = stack.submit(long_video_720p, pipeline_id="frame_stats")
        stack.start("clock")
        first = [stack.start("worker"), stack.start("worker")]
        stack.wait_for(job_id, {"running"}, 60)
        doomed = [pid for worker in first for pid in process_tree(worker.pid)]
        signal_all(doomed, signal.SIGKILL)  # the machine is gone: no process says goodbye
        killed_at = time.monotonic()
        assert stack.status(job_id)["status"] == "running"
        stack.start("worker")
        stack.start("worker")
        done = stack.wait_for(job_id, {"completed", "failed"}, 120)
        elapsed = time.monotonic() - killed_at
        print(f"machine lost: completed {elapsed:.1f} s after the kill")
        assert done["status"] == "completed", done
        assert stack.results(job_id) == undisturbed
        assert stack.attempts(job_id) == 2
        assert elapsed < 120

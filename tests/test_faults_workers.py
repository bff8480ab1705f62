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
from tests.faults import fault_video, is_ffmpeg, process_tree, signal_all, stacks

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fault_video(tmp_path_factory.mktemp("fault_video"))


@pytest.fixture(scope="module")
def undisturbed(clip: Path) -> list[dict[str, Any]]:
    """The results of the long video, run once with nothing going wrong."""
    return VideoFilePipelineService().run_on_file(clip, "frame_stats", 1, None)


def test_machine_lost_every_worker_killed_job_completes(
    redis_url: str, tmp_path: Path, clip: Path, undisturbed: list[dict[str, Any]]
) -> None:
    """#6.1: worker, work horse and ffmpeg SIGKILLed at once; new workers finish the job."""
    with stacks(redis_url, tmp_path) as (stack,):
        job_id = stack.submit(clip, pipeline_id="frame_stats")
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


def _decoding_horse(worker_pid: int) -> int | None:
    """The work horse of ``worker_pid`` that is decoding a video (it has an ffmpeg child)."""
    tree = process_tree(worker_pid)
    for pid in tree[1:]:
        if not is_ffmpeg(pid) and any(is_ffmpeg(child) for child in process_tree(pid)[1:]):
            return pid
    return None


def test_out_of_memory_horse_killed_is_retried_then_completes(
    redis_url: str, tmp_path: Path, clip: Path, undisturbed: list[dict[str, Any]]
) -> None:
    """#6.2: the work horse alone is SIGKILLed once: the job runs again and completes; a
    video whose horse is killed on every run ends failed after JOB_MAX_ATTEMPTS (2) runs."""
    with stacks(redis_url, tmp_path, count=2) as (once, always):
        jobs = {
            "once": (once, once.submit(clip, pipeline_id="frame_stats")),
            "always": (always, always.submit(clip, pipeline_id="frame_stats")),
        }
        workers = {}
        for name, (stack, _job) in jobs.items():
            stack.start("clock")
            workers[name] = stack.start("worker")
        kills, killed = {"once": 0, "always": 0}, set()
        started = time.monotonic()
        while True:
            states = {name: stack.status(job)["status"] for name, (stack, job) in jobs.items()}
            if all(s in ("completed", "failed") for s in states.values()):
                break
            assert time.monotonic() - started < 150, (states, once.logs()[-3000:])
            for name in ("once", "always"):
                if states[name] != "running" or (name == "once" and kills["once"]):
                    continue
                horse = _decoding_horse(workers[name].pid)
                if horse is not None and horse not in killed:
                    signal_all([horse], signal.SIGKILL)
                    killed.add(horse)  # it may take a moment to die; count it once
                    kills[name] += 1
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(f"out of memory: both ended {elapsed:.1f} s after the first kill; kills {kills}")
        stack, job_id = jobs["once"]
        assert stack.status(job_id)["status"] == "completed"
        assert stack.results(job_id) == undisturbed
        assert stack.attempts(job_id) == 2 and kills["once"] == 1, stack.logs()[-5000:]
        stack, job_id = jobs["always"]
        status = stack.status(job_id)
        assert status["status"] == "failed", status
        assert kills["always"] == 2
        assert "the worker stopped 2 times" in status["error_message"]
        assert "out of memory" in status["error_message"]
        for stack, _job in jobs.values():
            assert all(p.poll() is None for p in stack.processes), "a process died"


def test_deploy_sigterm_everything_then_sigkill_hands_the_job_back(
    redis_url: str, tmp_path: Path, long_video_720p: Path
) -> None:
    """#6.3: SIGTERM to the worker, its work horse and ffmpeg at once, SIGKILL 10 s later, a
    new worker started: the job was handed back (never failed) and completes as undisturbed.
    The second stack sends SIGTERM to the worker process alone (systemd's KillMode=mixed)."""
    clip = long_video_720p  # 40 s: still decoding when the signal comes, even on a quiet machine
    undisturbed = VideoFilePipelineService().run_on_file(clip, "frame_stats", 1, None)
    with stacks(redis_url, tmp_path, count=2) as (everyone, parent_only):
        # One stack at a time, each stopped as soon as its own ffmpeg runs, so that no decode
        # can finish before its signal, however loaded the machine is.
        runs, stopped = [], []
        for stack in (everyone, parent_only):
            job_id = stack.submit(clip, pipeline_id="frame_stats")
            stack.start("clock")
            worker = stack.start("worker")
            runs.append((stack, job_id, worker))
            stack.wait_for(job_id, {"running"}, 60)
            stack.wait_until(lambda w=worker: _decoding_horse(w.pid), 60, "no ffmpeg started")
            if stack is everyone:
                targets = process_tree(worker.pid)
                assert any(is_ffmpeg(p) for p in targets)
            else:
                targets = [worker.pid]
            signal_all(targets, signal.SIGTERM)
            stopped.append(time.monotonic())
        for (stack, job_id, worker), stopped_at in zip(runs, stopped, strict=True):
            seen = stack.wait_for(job_id, {"pending", "failed", "completed"}, 10, poll=0.02)
            handed_back = time.monotonic() - stopped_at
            assert seen["status"] == "pending", seen
            print(f"deploy: handed back {handed_back:.2f} s after SIGTERM")
            stack.wait_until(lambda w=worker: w.poll() is not None, 10, "the worker did not exit")
        stopped_at = stopped[0]
        for stack, _job_id, _worker in runs:
            stack.start("worker")  # the new release's worker, while the old one is stopping
        time.sleep(max(0.0, 10 - (time.monotonic() - stopped_at)))
        for _stack, _job_id, worker in runs:
            signal_all(process_tree(worker.pid), signal.SIGKILL)  # the platform's SIGKILL
        for stack, job_id, _worker in runs:
            done = stack.wait_for(job_id, {"completed", "failed"}, 120)
            assert done["status"] == "completed", done
            assert stack.results(job_id) == undisturbed
            assert stack.attempts(job_id) == 1, "a deploy must not count as an attempt"
            assert "handed back" in stack.logs()

"""The in-process queue (no Redis): one job at a time, each in a child process with a time limit.

A thread cannot be stopped from outside, so each job runs in a child process of its own
(forked from a small server process that has the video stack loaded once). On
JOB_TIMEOUT the child and its ffmpeg are killed and the job is recorded failed. The
child watches the web process and kills itself and its ffmpeg when it is gone, so a
killed server leaves no job running behind its back. On the
next start, jobs left pending are queued again first, then the jobs left running; each
run is counted by the claim (``job_runs``), so a job whose runs keep being cut short ends
failed after JOB_MAX_ATTEMPTS instead of blocking the queue at every restart.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select
from werkzeug.utils import import_string

from webapp.extensions import db
from webapp.models import Job, JobStatus, release_running_jobs, transition
from webapp.queueing import TASK_PATH

_WATCH_SECONDS = 0.5

log = logging.getLogger(__name__)


def _child_context() -> Any:
    """A fork server with the video stack loaded once: cheap children, none of our sockets."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["jobs.tasks", "pipelines.service"])
    return context


def run_job_in_child(config: dict[str, Any], job_id: str, server_pid: int) -> None:
    """Child process: lead a process group (the job and its ffmpeg) that dies with the server."""
    os.setsid()
    threading.Thread(target=_die_with, args=(server_pid,), daemon=True).start()
    from webapp import create_app

    app = create_app(config)
    with app.app_context():
        try:
            import_string(TASK_PATH)(job_id)
        except Exception:
            pass  # the task has recorded the failure and logged it
        finally:
            db.engine.dispose()


def _die_with(server_pid: int) -> None:
    """Kill this job's process group (ffmpeg included) once the server process is gone."""
    while True:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os.killpg(0, signal.SIGKILL)
        time.sleep(_WATCH_SECONDS)


def _picklable(config: Any) -> dict[str, Any]:
    """The app's settings that can be sent to a child (all of them, in practice)."""
    sendable = {}
    for key, value in config.items():
        try:
            pickle.dumps(value)
        except Exception:  # anything unpicklable simply stays behind
            continue
        sendable[key] = value
    return sendable


class InProcessJobQueue:
    """A FIFO drained by one thread of the web process, each job in a time-limited child."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._ids: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._resumed = False

    def resume_unfinished(self) -> None:
        """Once per process, queue again what a previous run left pending or running.

        One web process owns the queue in this mode, so a running row is a run that died
        with the previous process: it is released, and queued after the pending jobs, since
        it may be what stopped that process. Its claim counts the run (JOB_MAX_ATTEMPTS).
        """
        if self._resumed:
            return
        with self._lock:
            if self._resumed:
                return
            pending, interrupted = self._unfinished()
            with self.app.app_context():
                release_running_jobs()  # their runs died with the previous process
            self._resumed = True
        from jobs.workdir import sweep_workdir

        sweep_workdir(self.app.config["WORK_DIR"])
        for job_id in pending:
            log.info("job %s: queued again after a restart", job_id)
            self.enqueue(job_id)
        for job_id in interrupted:
            log.warning("job %s: resumed after the server stopped while it ran", job_id)
            self.enqueue(job_id)

    def _unfinished(self) -> tuple[list[str], list[str]]:
        with self.app.app_context():
            query = (
                select(Job.job_id, Job.status)
                .where(Job.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]))
                .order_by(Job.created_at)
            )
            rows = db.session.execute(query).all()
        pending = [str(r.job_id) for r in rows if r.status == JobStatus.PENDING]
        return pending, [str(r.job_id) for r in rows if r.status == JobStatus.RUNNING]

    def enqueue(self, job_id: str) -> None:
        """Queue the id and make sure the draining thread runs."""
        self._ids.put(job_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name="in-process-video-jobs", daemon=True
                )
                self._thread.start()

    def _drain(self) -> None:
        while True:
            job_id = self._ids.get()
            try:
                self._run(job_id)
            except Exception:
                log.exception("job %s: failed in the in-process queue", job_id)
            finally:
                self._ids.task_done()

    def _run(self, job_id: str) -> None:
        """Run one job in a child; kill it (and its ffmpeg) on JOB_TIMEOUT; record the end."""
        from jobs import errors
        from jobs.cleanup import discard_upload
        from jobs.completion import record_failed
        from jobs.workdir import sweep_workdir

        timeout = self.app.config["JOB_TIMEOUT"]
        child = _child_context().Process(
            target=run_job_in_child,
            args=(_picklable(self.app.config), job_id, os.getpid()),
            name=f"video-job-{job_id}",
            daemon=True,
        )
        child.start()
        child.join(timeout)
        message = None
        if child.is_alive():
            _kill_group(child.pid)
            child.join()
            message = errors.timed_out(timeout)
            log.error("job %s: killed after JOB_TIMEOUT (%s s)", job_id, timeout)
        elif child.exitcode:
            log.error("job %s: its process ended with exit code %s", job_id, child.exitcode)
            if self._run_again(job_id):
                return
            message = errors.WORKER_LOST
        with self.app.app_context():
            if message:
                record_failed(uuid.UUID(job_id), message)
            sweep_workdir(self.app.config["WORK_DIR"], job_id)
            discard_upload(job_id)  # the row has ended: nothing runs it again

    def _run_again(self, job_id: str) -> bool:
        """A job whose process was killed (out of memory, say) is queued again, as a worker's
        would be; its claim counts the run, so JOB_MAX_ATTEMPTS bounds the re-runs."""
        with self.app.app_context():
            import_string("jobs.workdir:sweep_workdir")(self.app.config["WORK_DIR"], job_id)
            released = transition(uuid.UUID(job_id), [JobStatus.RUNNING], JobStatus.PENDING)
        if released:
            log.warning("job %s: queued again after its process was killed", job_id)
            self.enqueue(job_id)
        return released

    def join(self) -> None:
        """Block until every queued job has been processed (tests and graceful shutdown)."""
        self._ids.join()


def _kill_group(pid: int | None) -> None:
    """SIGKILL the child's process group: the child and the ffmpeg it started."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)

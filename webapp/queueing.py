"""Delivering job ids to the task: RQ when REDIS_URL is set, else an in-process thread."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQJobStatus
from werkzeug.utils import import_string

from webapp.models import release_running_jobs, unfinished_job_ids

#: The task, by dotted path, so that the web process never imports the video stack.
TASK_PATH = "jobs.tasks.process_video_job"

log = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The job could not be handed to the queue."""


class JobQueue(Protocol):
    """Anything that can deliver a job id to the task."""

    def enqueue(self, job_id: str) -> None:
        """Hand the job id over; raise QueueUnavailable if that is impossible."""


#: RQ states of a job that a worker will still pick up.
_RQ_WAITING = {RQJobStatus.QUEUED, RQJobStatus.SCHEDULED, RQJobStatus.DEFERRED}


class RQJobQueue:
    """RQ: the job id is the only argument and the RQ job id as well."""

    def __init__(self, redis_url: str, name: str, job_timeout: int) -> None:
        self.redis_url, self.name, self.job_timeout = redis_url, name, job_timeout
        self._connection: Redis | None = None

    def rq_queue(self) -> Queue:
        """The RQ queue, connecting lazily so that building the app touches no network."""
        if self._connection is None:
            self._connection = Redis.from_url(
                self.redis_url, socket_connect_timeout=5, socket_timeout=10
            )
        return Queue(self.name, connection=self._connection)

    def enqueue(self, job_id: str) -> None:
        """Enqueue the task by dotted path with the configured timeout."""
        try:
            self.rq_queue().enqueue(
                TASK_PATH,
                job_id,
                job_id=job_id,
                job_timeout=self.job_timeout,
                description=f"video job {job_id}",
            )
        except RedisError as exc:
            raise QueueUnavailable(f"the job queue is unreachable: {exc}") from exc

    def waiting(self, job_ids: list[str]) -> set[str]:
        """The ids among ``job_ids`` that RQ still holds for a worker to pick up."""
        queue = self.rq_queue()
        listed = set(queue.get_job_ids()) | set(queue.scheduled_job_registry.get_job_ids())
        waiting = set()
        for job_id in set(job_ids) & listed:
            try:
                status = RQJob.fetch(job_id, connection=queue.connection).get_status()
            except NoSuchJobError:
                continue
            if status in _RQ_WAITING:
                waiting.add(job_id)
        return waiting

    def deliver_again(self, job_id: str) -> None:
        """Enqueue a job afresh under the same id, dropping what RQ still keeps of it.

        RQ's old record (failed, finished, or started by a worker that died) would otherwise
        linger in its registries and be cleaned up later as abandoned while the new delivery
        runs.
        """
        try:
            RQJob.fetch(job_id, connection=self.rq_queue().connection).delete()
        except NoSuchJobError:
            pass
        except RedisError as exc:
            raise QueueUnavailable(f"the job queue is unreachable: {exc}") from exc
        self.enqueue(job_id)


class InProcessJobQueue:
    """A FIFO drained by one background thread of the web process, for running without Redis."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._ids: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._resumed = False

    def resume_unfinished(self) -> None:
        """Once per process, queue again the jobs a previous run left pending or running.

        The in-process queue lives in memory, so a restart would otherwise strand them.
        Called before the first request; one web process owns the queue in this mode.
        """
        if self._resumed:
            return
        with self._lock:
            if self._resumed:
                return
            release_running_jobs()  # their runs died with the previous process
            job_ids = unfinished_job_ids()
            self._resumed = True
        for job_id in job_ids:
            log.info("job %s: queued again after a restart", job_id)
            self.enqueue(job_id)

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
        task = import_string(TASK_PATH)
        while True:
            job_id = self._ids.get()
            try:
                with self.app.app_context():
                    task(job_id)
            except Exception:
                log.exception("job %s: failed in the in-process queue", job_id)
            finally:
                self._ids.task_done()

    def join(self) -> None:
        """Block until every queued job has been processed (tests and graceful shutdown)."""
        self._ids.join()


def build_queue(app: Flask) -> JobQueue:
    """Pick RQ or the in-process queue from the app's configuration."""
    if app.config.get("REDIS_URL"):
        return RQJobQueue(
            app.config["REDIS_URL"], app.config["QUEUE_NAME"], app.config["JOB_TIMEOUT"]
        )
    in_process = InProcessJobQueue(app)
    app.before_request(in_process.resume_unfinished)
    return in_process

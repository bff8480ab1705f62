"""Delivering job ids to the task: RQ when REDIS_URL is set, else the in-process queue."""

from __future__ import annotations

import logging
from typing import Protocol

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus as RQJobStatus

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

    def enqueue(self, job_id: str, at_front: bool = False) -> None:
        """Enqueue the task by dotted path with the configured timeout."""
        try:
            self.rq_queue().enqueue(
                TASK_PATH,
                job_id,
                job_id=job_id,
                job_timeout=self.job_timeout,
                description=f"video job {job_id}",
                at_front=at_front,
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
        self.enqueue(job_id, at_front=True)  # it has waited its turn once already


def build_queue(app: Flask) -> JobQueue:
    """Pick RQ or the in-process queue from the app's configuration."""
    if app.config.get("REDIS_URL"):
        return RQJobQueue(
            app.config["REDIS_URL"], app.config["QUEUE_NAME"], app.config["JOB_TIMEOUT"]
        )
    from webapp.in_process import InProcessJobQueue

    in_process = InProcessJobQueue(app)
    app.before_request(in_process.resume_unfinished)
    return in_process

"""Deliver again the jobs that the queue lost: the row is the truth, RQ only delivers work.

A job is lost when its row is ``pending`` or ``running``, nobody has touched the row for
HEARTBEAT_STALE_SECONDS (a live run refreshes ``updated_at`` every HEARTBEAT_SECONDS), and
RQ does not hold it for a worker to pick up. That covers a flushed or restarted Redis, a
machine lost with its workers, a killed work horse, and a worker that died between
dequeuing a job and claiming its row. Delivering a job twice is harmless: the task's claim
is a conditional update, so only one run takes it.

The Procfile's ``clock`` process (`rq cron jobs/clock.py`) enqueues this function every
RECOVERY_INTERVAL_SECONDS; operators can also run it by hand.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext

from flask import current_app, has_app_context

from jobs.tasks import worker_app
from webapp.models import lost_candidates
from webapp.queueing import QueueUnavailable, RQJobQueue
from webapp.services import get_queue

log = logging.getLogger(__name__)


def requeue_lost_jobs() -> list[str]:
    """Enqueue again every lost job (see the module docstring); return their ids.

    Uses the caller's app context if there is one (a CLI command), else the worker's app.
    With the in-process queue there is nothing to do: that mode re-queues unfinished jobs
    when its process starts.
    """
    with _app_context():
        queue = get_queue()
        if not isinstance(queue, RQJobQueue):
            log.info("recovery: the in-process queue resumes jobs at start; nothing to do")
            return []
        candidates = lost_candidates(current_app.config["HEARTBEAT_STALE_SECONDS"])
        if not candidates:
            return []
        waiting = queue.waiting(candidates)
        lost = [job_id for job_id in candidates if job_id not in waiting]
        delivered = []
        for job_id in lost:
            try:
                queue.deliver_again(job_id)
            except QueueUnavailable as exc:
                log.error("recovery: job %s not delivered again: %s", job_id, exc)
                break
            log.warning("recovery: job %s was lost by the queue; delivered again", job_id)
            delivered.append(job_id)
        return delivered


def _app_context() -> AbstractContextManager[object]:
    return nullcontext() if has_app_context() else worker_app().app_context()

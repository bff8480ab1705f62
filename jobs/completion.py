"""Recording a job's end through a database outage, without leaving unowned results behind.

A job that has done its work should not be lost because the database blinked at the
moment of completion: the status change is retried with back-off for DB_RETRY_SECONDS.
If the row still cannot be moved, the results file is deleted, so that no file is kept
that no row points to; the row stays ``running`` and recovery delivers the job again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from webapp.extensions import db
from webapp.models import Job, JobStatus, transition
from webapp.results import delete_results
from webapp.services import get_storage
from webapp.storage import StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: What a database that is down, restarting or unreachable raises.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError)
_FIRST_DELAY, _MAX_DELAY = 0.25, 5.0


def retry_database(action: Callable[[], T], job_id: object, seconds: float | None = None) -> T:
    """Run ``action``; while the database is unreachable, retry with back-off for a bounded time."""
    bound = current_app.config.get("DB_RETRY_SECONDS", 60) if seconds is None else seconds
    deadline = time.monotonic() + bound
    delay = _FIRST_DELAY
    while True:
        try:
            return action()
        except DATABASE_UNREACHABLE as exc:
            _rollback()
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "job %s: database unreachable (%s); retrying in %.2f s",
                job_id,
                type(exc.orig or exc).__name__,
                delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)


def _rollback() -> None:
    try:
        db.session.rollback()
    except DATABASE_UNREACHABLE:
        db.session.close()


def record_completed(row_id: uuid.UUID, key: str, run_id: uuid.UUID | None = None) -> bool:
    """Move the row to completed with its results key; on giving up, delete the results file."""
    try:
        moved = retry_database(
            lambda: transition(
                row_id, [JobStatus.RUNNING], JobStatus.COMPLETED, run_id=run_id, output_path=key
            ),
            row_id,
        )
        if not moved:  # maybe our own earlier attempt committed and only its answer was lost
            moved = retry_database(lambda: _points_to(row_id, key), row_id)
    except DATABASE_UNREACHABLE:
        log.error("job %s: the row could not be marked completed; results deleted", row_id)
        _delete_results(row_id, key)
        raise
    if not moved and not retry_database(lambda: _another_run_will_write(row_id), row_id):
        log.warning("job %s: finished but its row had changed; results deleted", row_id)
        _delete_results(row_id, key)
    elif not moved:
        log.warning("job %s: finished, but another run holds it now; left to that run", row_id)
    return moved


def record_failed(row_id: uuid.UUID, message: str, run_id: uuid.UUID | None = None) -> bool:
    """Move the row to failed (only while ``run_id`` holds it, if given); retry briefly; never
    raise."""
    bound = min(10, current_app.config.get("DB_RETRY_SECONDS", 60))
    statuses = [JobStatus.RUNNING] if run_id else [JobStatus.PENDING, JobStatus.RUNNING]
    try:
        return retry_database(
            lambda: transition(
                row_id, statuses, JobStatus.FAILED, run_id=run_id, error_message=message
            ),
            row_id,
            bound,
        )
    except DATABASE_UNREACHABLE:
        log.error("job %s: could not be marked failed: the database is unreachable", row_id)
        return False


def _points_to(row_id: uuid.UUID, key: str) -> bool:
    job = db.session.get(Job, row_id, populate_existing=True)
    return job is not None and job.status == JobStatus.COMPLETED and job.output_path == key


def _another_run_will_write(row_id: uuid.UUID) -> bool:
    """A pending or running row belongs to a later run, which writes the same results key."""
    job = db.session.get(Job, row_id, populate_existing=True)
    return job is not None and job.status in (JobStatus.PENDING, JobStatus.RUNNING)


def _delete_results(row_id: uuid.UUID, key: str) -> None:
    try:
        get_storage().delete(key)
        delete_results(get_storage(), row_id)  # the frame index beside the results too
    except StorageError as exc:
        log.error("job %s: could not delete results %s no row points to: %s", row_id, key, exc)

"""What is kept: uploads go when their job is over, rows and files go when an operator prunes."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import Job, JobRun, JobStatus
from webapp.results import delete_results
from webapp.services import get_storage
from webapp.storage import StorageError
from webapp.submissions import IdempotencyKey, JobOwner

log = logging.getLogger(__name__)

#: The states from which a job never runs again by itself.
FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value)


def discard_upload(job_id: uuid.UUID | str) -> bool:
    """Delete a finished job's upload (unless KEEP_UPLOADS); say whether it was deleted.

    Only call it once no retry will follow: a retried or resumed job needs its upload.
    The row keeps ``input_path``; results stay until the job is pruned.
    """
    if current_app.config.get("KEEP_UPLOADS"):
        return False
    row_id = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(str(job_id))
    job = db.session.get(Job, row_id)
    if job is None or job.status not in FINISHED:
        return False
    try:
        get_storage().delete(job.input_path)
    except StorageError as exc:
        log.warning("job %s: could not delete its upload (prune will retry): %s", row_id, exc)
        return False
    log.info("job %s: upload deleted now that the job is %s", row_id, job.status)
    return True


def prune_jobs(older_than_days: int) -> int:
    """Delete the rows and stored files of jobs finished more than N days ago; return how many.

    Pending and running jobs are never touched. Files go first, so a storage outage leaves
    the row in place and a later prune finishes the work instead of orphaning files.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must be 0 or more")
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    query = select(Job).where(Job.status.in_(FINISHED), Job.updated_at < cutoff)
    jobs = db.session.scalars(query).all()
    storage = get_storage()
    pruned = 0
    for job in jobs:
        try:
            for key in (job.input_path, job.output_path):
                if key:
                    storage.delete(key)
            if job.output_path:
                delete_results(storage, job.job_id)  # the frame index beside the results
        except StorageError as exc:
            log.warning("job %s: not pruned, its files could not be deleted: %s", job.job_id, exc)
            continue
        _delete_side_rows(job.job_id)
        result = db.session.execute(
            delete(Job).where(Job.job_id == job.job_id, Job.status.in_(FINISHED))
        )
        db.session.commit()
        pruned += result.rowcount
    log.info("pruned %d jobs finished more than %d days ago", pruned, older_than_days)
    return pruned


def _delete_side_rows(job_id: uuid.UUID) -> None:
    """Rows other tables keep about the job (its runs), in the same transaction.

    PostgreSQL would cascade; SQLite does not enforce foreign keys unless asked.
    """
    db.session.execute(delete(JobRun).where(JobRun.job_id == job_id))
    db.session.execute(delete(JobOwner).where(JobOwner.job_id == job_id))
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.job_id == job_id))

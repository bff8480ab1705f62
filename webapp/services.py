"""The service functions behind the routes: submit, status, results and the pipeline list."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, Conflict, NotFound, ServiceUnavailable

from pipelines.engine import Pipeline, load_pipelines
from pipelines.registry import unavailable_reason
from webapp import direct_uploads, submissions
from webapp.auth import current_owner
from webapp.extensions import db
from webapp.models import PROGRESS, Job, JobStatus, as_utc, transition
from webapp.queueing import JobQueue, QueueUnavailable
from webapp.results import results_key  # noqa: F401  (the task's import path for the key)
from webapp.storage import Storage
from webapp.uploads import CANONICAL_UUID, Submission, parse_submission

log = logging.getLogger(__name__)


def input_key(job_id: uuid.UUID) -> str:
    """Where a job's upload is stored: derived from the job id alone."""
    return f"{job_id}.mp4"


def get_storage() -> Storage:
    """The app's storage backend."""
    return current_app.extensions["video_storage"]


def get_queue() -> JobQueue:
    """The app's job queue."""
    return current_app.extensions["video_queue"]


#: The pipeline a submission without ``pipeline_id`` runs.
DEFAULT_PIPELINE_ID = "frame_stats"


def pipeline_unavailable_reason(pipeline: Pipeline) -> str | None:
    """Why this server cannot run the pipeline (an optional package is missing), or None."""
    return unavailable_reason(node.plugin for node in pipeline.nodes)


def list_pipelines() -> dict[str, Any]:
    """Every pipeline a client may submit, whether it can run here, and the default one."""
    described = []
    for pipeline in load_pipelines().values():
        reason = pipeline_unavailable_reason(pipeline)
        described.append(
            {**pipeline.describe(), "available": reason is None, "unavailable_reason": reason}
        )
    return {"pipelines": described, "default_pipeline_id": DEFAULT_PIPELINE_ID}


def _max_bytes() -> int:
    return current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024


def presign_upload() -> dict[str, Any]:
    """A presigned S3 POST for a new upload id; the client then submits that id."""
    upload_id = uuid.uuid4()
    return direct_uploads.presign(get_storage(), upload_id, input_key(upload_id), _max_bytes())


def submit_job(
    form: dict[str, str], files: dict[str, FileStorage], idempotency_key: str | None = None
) -> tuple[uuid.UUID, bool]:
    """Store the upload, commit a pending row, then enqueue; say if it replayed an earlier one."""
    key = submissions.parse_idempotency_key(idempotency_key)
    pipelines = load_pipelines()
    submission = parse_submission(form, files, pipelines.keys(), DEFAULT_PIPELINE_ID)
    reason = pipeline_unavailable_reason(pipelines[submission.pipeline_id])
    if reason:
        raise BadRequest(f"pipeline {submission.pipeline_id!r} cannot run here: {reason}")
    owner = current_owner()
    fingerprint = submissions.request_fingerprint(submission) if key else None
    if key and fingerprint and (earlier := submissions.replayed_job(owner, key, fingerprint)):
        return earlier, True
    storage = get_storage()
    if submission.upload_id is not None:
        job_id = submission.upload_id
        direct_uploads.check_uploaded(storage, input_key(job_id), job_id, _max_bytes())
    else:
        job_id = uuid.uuid4()
        assert submission.stream is not None
        storage.save_fileobj(input_key(job_id), submission.stream)
    try:
        _insert_job(job_id, submission, owner, key, fingerprint)
    except IntegrityError:
        db.session.rollback()
        if submission.upload_id is None:
            storage.delete(input_key(job_id))
        if key and fingerprint and (earlier := submissions.replayed_job(owner, key, fingerprint)):
            return earlier, True  # a concurrent request with the same key won the race
        raise Conflict(f"upload {job_id} was already submitted") from None
    except Exception:
        db.session.rollback()
        if submission.upload_id is None:  # a direct upload stays for the client to resubmit
            storage.delete(input_key(job_id))
        raise
    _enqueue(job_id, storage)
    log.info("job %s: submitted for pipeline %s", job_id, submission.pipeline_id)
    return job_id, False


def _insert_job(
    job_id: uuid.UUID,
    submission: Submission,
    owner: str | None,
    key: str | None,
    fingerprint: str | None,
) -> None:
    """The job row, its owner and its idempotency key in one transaction."""
    db.session.add(
        Job(
            job_id=job_id,
            status=JobStatus.PENDING.value,
            input_path=input_key(job_id),
            pipeline_id=submission.pipeline_id,
            frame_stride=submission.frame_stride,
            max_frames=submission.max_frames,
        )
    )
    db.session.flush()  # the job row first, so the others' foreign keys find it
    submissions.record(job_id, owner, key, fingerprint)
    db.session.commit()


def _enqueue(job_id: uuid.UUID, storage: Storage) -> None:
    try:
        get_queue().enqueue(str(job_id))
    except QueueUnavailable as exc:
        log.error("job %s: %s", job_id, exc)
        storage.delete(input_key(job_id))
        transition(
            job_id,
            [JobStatus.PENDING],
            JobStatus.FAILED,
            error_message="the job queue was unreachable when the job was submitted",
        )
        raise ServiceUnavailable("the job queue is unavailable; try again shortly") from exc


def find_job(job_id: str) -> Job:
    """The job with this canonical id, if the caller's token may see it; else 404."""
    if not CANONICAL_UUID.fullmatch(job_id):
        raise NotFound(
            f"no job {job_id[:40]!r}: a job id is 36 characters, lowercase 8-4-4-4-12 hex"
        )
    job = db.session.get(Job, uuid.UUID(job_id))
    owner = current_owner()
    if job is None or (owner and submissions.owner_of(job.job_id) not in (None, owner)):
        raise NotFound(f"no job {job_id}")
    return job  # a read never changes a job: jobs/recovery.py delivers lost ones again


def timestamp(moment: Any) -> str:
    """One format whatever the database: UTC, whole seconds, ``+00:00``."""
    return as_utc(moment).isoformat(timespec="seconds")


def job_status(job_id: str) -> dict[str, Any]:
    """The job's status, coarse progress and timestamps; the error message if it failed."""
    job = find_job(job_id)
    status = JobStatus(job.status)
    body: dict[str, Any] = {
        "job_id": str(job.job_id),
        "status": status.value,
        "progress": PROGRESS[status],
        "created_at": timestamp(job.created_at),
        "updated_at": timestamp(job.updated_at),
    }
    if status is JobStatus.FAILED:
        body["error_message"] = job.error_message
    return body


def completed_job(job_id: str) -> Job:
    """The job if it completed with results; 404 saying why not otherwise."""
    job = find_job(job_id)
    if job.status != JobStatus.COMPLETED or not job.output_path:
        detail = {
            JobStatus.PENDING: "is pending: it has not started yet",
            JobStatus.RUNNING: "is still running",
            JobStatus.FAILED: f"failed: {job.error_message}",
        }.get(JobStatus(job.status), "has no results")
        if job.status in (JobStatus.PENDING, JobStatus.RUNNING):
            raise NotYet(f"job {job.job_id} {detail}", current_app.config["POLL_INTERVAL"])
        raise NotFound(f"job {job.job_id} {detail}")
    return job


class NotYet(NotFound):
    """404 for results that are not there yet, with the Retry-After a poller should honour."""

    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        """The usual headers plus Retry-After."""
        return [*super().get_headers(*args, **kwargs), ("Retry-After", str(self.retry_after))]


def parse_page(args: dict[str, str]) -> tuple[int, int] | None:
    """``?offset=&limit=``: None for the whole document, else a checked (offset, limit)."""
    if "offset" not in args and "limit" not in args:
        return None
    offset = _bounded(args.get("offset", "0"), "offset", 0, 10**9)
    limit = _bounded(args.get("limit", str(DEFAULT_PAGE)), "limit", 1, MAX_PAGE)
    return offset, limit


DEFAULT_PAGE, MAX_PAGE = 1000, 10_000


def _bounded(raw: str, name: str, low: int, high: int) -> int:
    if not raw.isdigit() or not raw.isascii() or not low <= int(raw[:12]) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}")
    return int(raw)

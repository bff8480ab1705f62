"""The service functions behind the routes: submit, status, results and the pipeline list."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from flask import current_app
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, NotFound, ServiceUnavailable

from pipelines.engine import Pipeline, load_pipelines
from pipelines.registry import unavailable_reason
from webapp.extensions import db
from webapp.models import PROGRESS, Job, JobStatus, as_utc, transition
from webapp.queueing import JobQueue, QueueUnavailable
from webapp.storage import ObjectNotFound, Storage
from webapp.uploads import parse_submission

log = logging.getLogger(__name__)


def input_key(job_id: uuid.UUID) -> str:
    """Where a job's upload is stored: derived from the job id alone."""
    return f"{job_id}.mp4"


def results_key(job_id: uuid.UUID) -> str:
    """Where a job's results JSON is stored."""
    return f"{job_id}_results.json"


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


def submit_job(form: dict[str, str], files: dict[str, FileStorage]) -> uuid.UUID:
    """Store the upload, commit a pending row, then enqueue; undo what was done on failure."""
    pipelines = load_pipelines()
    submission = parse_submission(form, files, pipelines.keys(), DEFAULT_PIPELINE_ID)
    reason = pipeline_unavailable_reason(pipelines[submission.pipeline_id])
    if reason:
        raise BadRequest(f"pipeline {submission.pipeline_id!r} cannot run here: {reason}")
    job_id = uuid.uuid4()
    storage, key = get_storage(), input_key(job_id)
    storage.save_fileobj(key, submission.stream)
    try:
        db.session.add(
            Job(
                job_id=job_id,
                status=JobStatus.PENDING.value,
                input_path=key,
                pipeline_id=submission.pipeline_id,
                frame_stride=submission.frame_stride,
                max_frames=submission.max_frames,
            )
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.delete(key)
        raise
    try:
        get_queue().enqueue(str(job_id))
    except QueueUnavailable as exc:
        log.error("job %s: %s", job_id, exc)
        storage.delete(key)
        transition(
            job_id,
            [JobStatus.PENDING],
            JobStatus.FAILED,
            error_message="the job queue was unreachable when the job was submitted",
        )
        raise ServiceUnavailable("the job queue is unavailable; try again shortly") from exc
    log.info("job %s: submitted for pipeline %s", job_id, submission.pipeline_id)
    return job_id


def _find_job(job_id: str) -> Job:
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFound(f"no job {job_id[:64]!r}: not a job id") from None
    job = db.session.get(Job, parsed)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job  # a read never changes a job: jobs/recovery.py delivers lost ones again


def _timestamps(job: Job) -> dict[str, str]:
    return {
        "created_at": as_utc(job.created_at).isoformat(),
        "updated_at": as_utc(job.updated_at).isoformat(),
    }


def job_status(job_id: str) -> dict[str, Any]:
    """The job's status, coarse progress and timestamps; the error message if it failed."""
    job = _find_job(job_id)
    status = JobStatus(job.status)
    body: dict[str, Any] = {
        "job_id": str(job.job_id),
        "status": status.value,
        "progress": PROGRESS[status],
        **_timestamps(job),
    }
    if status is JobStatus.FAILED:
        body["error_message"] = job.error_message
    return body


def job_results(job_id: str) -> dict[str, Any]:
    """The results of a completed job, read back from storage."""
    job = _find_job(job_id)
    if job.status != JobStatus.COMPLETED or not job.output_path:
        detail = {
            JobStatus.PENDING: "is pending: it has not started yet",
            JobStatus.RUNNING: "is still running",
            JobStatus.FAILED: f"failed: {job.error_message}",
        }.get(JobStatus(job.status), "has no results")
        raise NotFound(f"job {job.job_id} {detail}")
    try:
        stored = json.loads(get_storage().get_bytes(job.output_path))
    except ObjectNotFound:
        raise NotFound(f"job {job.job_id}: its results file is missing from storage") from None
    return {"job_id": str(job.job_id), "results": stored["results"], **_timestamps(job)}

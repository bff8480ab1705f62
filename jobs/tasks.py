"""process_video_job: pending row -> running -> pipeline -> results in storage -> completed."""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, has_app_context
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException

from pipelines.errors import PipelineError
from webapp import create_app
from webapp.extensions import db
from webapp.models import Job, JobStatus, transition
from webapp.services import get_storage, results_key
from webapp.storage import StorageError

log = logging.getLogger(__name__)
_ERROR_MESSAGE_LIMIT = 500


@cache
def worker_app() -> Flask:
    """The app a worker process builds once from its environment (RQ gives no app context)."""
    return create_app()


def _app_context() -> AbstractContextManager[object]:
    """The caller's app context (in-process queue, tests) or else the worker's own app's."""
    return nullcontext() if has_app_context() else worker_app().app_context()


def process_video_job(job_id: str) -> None:
    """Run one job; the same function serves RQ workers and the in-process queue."""
    with _app_context():
        _process(job_id)


def record_rq_failure(rq_job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: a job whose worker died is marked failed, unless RQ will retry it."""
    if getattr(rq_job, "retries_left", None):
        return
    if isinstance(exc, AbandonedJobError):
        message = "the worker running this job stopped unexpectedly; submit the video again"
    else:
        message = describe_error(exc) if exc is not None else "the job failed in the worker"
    with _app_context():
        moved = transition(
            uuid.UUID(rq_job.id),
            [JobStatus.PENDING, JobStatus.RUNNING],
            JobStatus.FAILED,
            error_message=message,
        )
    if moved:
        log.error("job %s: failed in RQ: %s", rq_job.id, message)


def describe_error(exc: BaseException) -> str:
    """A one-line, human error message for the job row: no traceback, bounded length."""
    text = " ".join(str(exc).split())
    if isinstance(exc, JobTimeoutException):
        text = f"the job ran longer than JOB_TIMEOUT ({text})"
    elif not text or not isinstance(exc, PipelineError | StorageError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:_ERROR_MESSAGE_LIMIT]


def _process(job_id: str) -> None:
    row_id = uuid.UUID(job_id)
    job = db.session.get(Job, row_id)
    if job is None:
        log.error("job %s: no such row; nothing to do", job_id)
        return
    if job.status == JobStatus.COMPLETED:
        log.info("job %s: already completed; not processing it again", job_id)
        return
    claimed = transition(
        row_id,
        [JobStatus.PENDING, JobStatus.RUNNING, JobStatus.FAILED],
        JobStatus.RUNNING,
        error_message=None,
    )
    if not claimed:
        log.info("job %s: no longer runnable; skipping", job_id)
        return
    input_path, pipeline_id = job.input_path, job.pipeline_id
    frame_stride, max_frames = job.frame_stride or 1, job.max_frames
    db.session.close()  # hold no connection during the long part
    log.info(
        "job %s: running pipeline %s (stride %s, max %s)",
        job_id,
        pipeline_id,
        frame_stride,
        max_frames,
    )
    try:
        results = _run_pipeline(input_path, pipeline_id, frame_stride, max_frames)
        key = results_key(row_id)
        document = {"job_id": job_id, "pipeline_id": pipeline_id, "results": results}
        get_storage().put_bytes(key, json.dumps(document, separators=(",", ":")).encode())
        if transition(row_id, [JobStatus.RUNNING], JobStatus.COMPLETED, output_path=key):
            log.info("job %s: completed with %d frame results", job_id, len(results))
        else:
            log.warning("job %s: finished but its row had changed; left as it was", job_id)
    except BaseException as exc:
        message = describe_error(exc)
        log.error("job %s: failed: %s", job_id, message)
        db.session.rollback()
        transition(
            row_id, [JobStatus.PENDING, JobStatus.RUNNING], JobStatus.FAILED, error_message=message
        )
        raise


def _run_pipeline(
    input_path: str, pipeline_id: str, frame_stride: int, max_frames: int | None
) -> list[dict]:
    from pipelines.service import VideoFilePipelineService

    with tempfile.TemporaryDirectory(prefix="video-job-") as workdir:
        local_copy = Path(workdir) / "input.mp4"
        get_storage().download_to(input_path, local_copy)
        return VideoFilePipelineService().run_on_file(
            local_copy, pipeline_id, frame_stride, max_frames
        )

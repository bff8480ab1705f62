"""process_video_job: pending row -> running -> pipeline -> results in storage -> completed."""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context

from webapp import create_app
from webapp.extensions import db
from webapp.models import Job, JobStatus, transition
from webapp.services import get_storage, results_key

log = logging.getLogger(__name__)
_ERROR_MESSAGE_LIMIT = 500


@cache
def worker_app() -> Flask:
    """The app a worker process builds once from its environment (RQ gives no app context)."""
    return create_app()


def process_video_job(job_id: str) -> None:
    """Run one job; the same function serves RQ workers and the in-process queue."""
    if has_app_context():
        _process(current_app._get_current_object(), job_id)  # type: ignore[attr-defined]
        return
    app = worker_app()
    with app.app_context():
        _process(app, job_id)


def record_rq_failure(rq_job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: a job whose worker died is marked failed, unless RQ will retry it."""
    if getattr(rq_job, "retries_left", None):
        return
    message = describe_error(exc) if exc is not None else "the job failed in the worker"
    if type(exc).__name__ == "AbandonedJobError":
        message = "the worker running this job stopped unexpectedly; submit the video again"
    app = current_app._get_current_object() if has_app_context() else worker_app()  # type: ignore[attr-defined]
    with app.app_context():
        row_id = uuid.UUID(rq_job.id)
        if transition(
            row_id, [JobStatus.PENDING, JobStatus.RUNNING], JobStatus.FAILED, error_message=message
        ):
            log.error("job %s: failed in RQ: %s", rq_job.id, message)


def describe_error(exc: BaseException) -> str:
    """A one-line, human error message for the job row: no traceback, bounded length."""
    text = " ".join(str(exc).split())
    if type(exc).__name__ == "JobTimeoutException":
        text = f"the job ran longer than JOB_TIMEOUT ({text})"
    elif not text or not isinstance(exc, _FRIENDLY_ERRORS):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:_ERROR_MESSAGE_LIMIT]


def _friendly_errors() -> tuple[type[BaseException], ...]:
    from pipelines.errors import PipelineError
    from webapp.storage import StorageError

    return (PipelineError, StorageError)


_FRIENDLY_ERRORS = _friendly_errors()


def _process(app: Flask, job_id: str) -> None:
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

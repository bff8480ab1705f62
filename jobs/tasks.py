"""process_video_job: pending row -> running -> pipeline -> results in storage -> completed."""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from pathlib import Path

from flask import Flask, current_app, has_app_context
from rq import Retry, get_current_job

from jobs.cleanup import discard_upload
from jobs.completion import record_completed, record_failed
from jobs.errors import public_message
from jobs.liveness import Heartbeat, interruption, stop_requests_interrupt
from jobs.workdir import job_workdir, sweep_workdir
from webapp import create_app
from webapp.extensions import db
from webapp.models import Claim, Job, claim, hand_back
from webapp.results import write_results
from webapp.services import get_storage

log = logging.getLogger(__name__)
#: RQ re-queues a handed-back job this many times at most; the row bounds real attempts.
_HAND_BACKS = 1000


@cache
def worker_app() -> Flask:
    """The app a worker process builds once from its environment (RQ gives no app context)."""
    return create_app()


def _app_context() -> AbstractContextManager[object]:
    """The caller's app context (in-process queue, tests) or else the worker's own app's."""
    return nullcontext() if has_app_context() else worker_app().app_context()


def process_video_job(job_id: str) -> Retry | None:
    """Run one job; the same function serves RQ workers and the in-process queue.

    Returns RQ's ``Retry`` when the worker was stopped mid-job and handed the job back, so
    that RQ puts it at the front of the queue for the next worker.
    """
    with _app_context():
        return _process(job_id)


class JobRowMissing(Exception):
    """A delivered job id has no row: this worker's database is not the web's."""


def describe_error(exc: BaseException, job_timeout: float | None = None) -> str:
    """The fixed public sentence for this kind of failure (jobs.errors); details go to the log."""
    if job_timeout is None:
        rq_job = get_current_job()
        job_timeout = rq_job.timeout if rq_job else current_app.config.get("JOB_TIMEOUT")
    return public_message(exc, job_timeout)


def _process(job_id: str) -> Retry | None:
    row_id = uuid.UUID(job_id)
    job = db.session.get(Job, row_id)
    if job is None:
        url = db.engine.url.render_as_string(hide_password=True)
        message = (
            f"job {job_id} has no row in this worker's database ({url}): the worker's "
            "DATABASE_URL (or the web's QUEUE_NAME) differs from the web process's"
        )
        log.error("%s", message)
        raise JobRowMissing(message)
    config = current_app.config
    won = claim(row_id, config["HEARTBEAT_STALE_SECONDS"])
    if won is None:
        log.info("job %s: not claimed (its row is %s): not run again", job_id, job.status)
        return None
    if won.attempts > config["JOB_MAX_ATTEMPTS"]:
        _give_up(row_id, won)
        return None
    input_path, pipeline_id = job.input_path, job.pipeline_id
    frame_stride, max_frames = job.frame_stride or 1, job.max_frames
    db.session.close()  # hold no connection during the long part
    log.info(
        "job %s: running pipeline %s (stride %s, max %s), attempt %d",
        job_id,
        pipeline_id,
        frame_stride,
        max_frames,
        won.attempts,
    )
    heartbeat = Heartbeat(db.engine, row_id, won.run_id, config["HEARTBEAT_SECONDS"])
    try:
        with heartbeat, stop_requests_interrupt():
            key = _run_pipeline(job_id, input_path, pipeline_id, frame_stride, max_frames)
        if heartbeat.lost.is_set():
            log.warning("job %s: another run took it over; this run's results dropped", job_id)
            return None
        if record_completed(row_id, key, won.run_id):
            log.info("job %s: completed with results stored as %s", job_id, key)
            discard_upload(row_id)
        return None
    except BaseException as exc:
        db.session.rollback()
        stopped, polite = interruption(exc)
        if stopped:
            return _hand_back(row_id, won, exc, polite)
        message = describe_error(exc)
        log.error("job %s: failed (%s): %r", job_id, message, exc, exc_info=True)
        if record_failed(row_id, message, won.run_id):
            discard_upload(row_id)  # failed is final: no run takes a failed row again
        raise


def _hand_back(row_id: uuid.UUID, won: Claim, exc: BaseException, polite: bool) -> Retry | None:
    """The worker was stopped, not the video at fault: return the job for another worker."""
    moved = hand_back(row_id, won.run_id, refund=polite)
    log.warning("job %s: interrupted (%s); handed back: %s", row_id, exc, moved)
    if moved and get_current_job() is not None:
        return Retry(max=_HAND_BACKS, enqueue_at_front=True)
    return None


def _give_up(row_id: uuid.UUID, won: Claim) -> None:
    """A job whose runs all ended without a word (its worker killed each time) ends failed."""
    runs = won.attempts - 1
    message = (
        f"the worker stopped {runs} times while processing this video without finishing "
        "(for example, out of memory); it will not be tried again"
    )
    log.error("job %s: %s", row_id, message)
    if record_failed(row_id, message, won.run_id):
        discard_upload(row_id)


def _run_pipeline(
    job_id: str, input_path: str, pipeline_id: str, frame_stride: int, max_frames: int | None
) -> str:
    """Run the pipeline on a local copy, writing frame results to storage as they come."""
    from pipelines.service import VideoFilePipelineService

    work_root = current_app.config["WORK_DIR"]
    sweep_workdir(work_root)  # folders of killed processes on this machine
    with job_workdir(work_root, job_id) as workdir:
        local_copy = Path(workdir) / "input.mp4"
        storage = get_storage()
        storage.download_to(input_path, local_copy)
        return write_results(
            storage,
            job_id,
            VideoFilePipelineService().iter_on_file(
                local_copy, pipeline_id, frame_stride, max_frames
            ),
        )

"""Public error messages: one fixed sentence per kind of failure, details only in the log.

Whoever polls a job sees ``error_message``; it must never show storage paths, buckets,
keys, heap addresses, tracebacks or library links. Each kind of failure gets one
sentence that says what happened and what to do; the exception itself is logged with
the job id by the caller.
"""

from __future__ import annotations

import re

from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import SQLAlchemyError

from pipelines.errors import PipelineError, UnknownPipelineError
from webapp.storage import ObjectNotFound, StorageError

_LIMIT = 300

UPLOAD_MISSING = "the uploaded video is no longer in storage; submit the video again"
STORAGE_DOWN = "file storage was unavailable while the job ran; submit the video again"
DATABASE_DOWN = "the job database was unavailable while the job ran; submit the video again"
OUT_OF_MEMORY = "the job ran out of memory; submit a smaller video or use frame_stride"
WORKER_LOST = "the worker running this job stopped unexpectedly; submit the video again"
UNKNOWN_PIPELINE = "the job names a pipeline this worker does not have"
INTERNAL = "the job failed because of an internal error; the service's log has the details"
DECODE_FAILED = "the video could not be decoded; check that it plays and submit it again"


def timed_out(seconds: int | float | None) -> str:
    """The message for a job stopped by JOB_TIMEOUT."""
    limit = f" after {int(seconds)} s" if seconds else ""
    return (
        f"the job timed out{limit} (JOB_TIMEOUT); "
        "use frame_stride or max_frames, or submit a shorter video"
    )


#: Things that must never reach a client, even inside a pipeline's own message.
_INTERNALS = re.compile(
    r"\[[^\]]*@ 0x[0-9a-fA-F]+\]"  # ffmpeg's log prefix: [vist#0:0/h264 @ 0x558f...]
    r"|0x[0-9a-fA-F]{6,}"  # any other address
    r"|\b[a-z][a-z0-9+.-]*://\S+"  # URLs: file://, s3://, https://sqlalche.me/...
    r"|(?<![\w.])/(?:[\w.@%+-]+/)*[\w.@%+-]+"  # absolute paths
)


def scrub(text: str) -> str:
    """Remove addresses, URLs and paths from a message and keep it to one bounded line."""
    cleaned = _INTERNALS.sub("", " ".join(text.split()))
    cleaned = re.sub(r"\s+([,;:.)])", r"\1", " ".join(cleaned.split()))
    return cleaned[:_LIMIT].strip(" ;:,")


def public_message(exc: BaseException, job_timeout: int | float | None = None) -> str:
    """The one sentence a client is shown for ``exc``."""
    if isinstance(exc, JobTimeoutException):
        return timed_out(job_timeout)
    if isinstance(exc, AbandonedJobError):
        return WORKER_LOST
    if isinstance(exc, UnknownPipelineError):
        return UNKNOWN_PIPELINE
    if isinstance(exc, PipelineError):
        # pipelines/ raises human sentences; scrub them anyway, so nothing slips through.
        return scrub(str(exc)) or DECODE_FAILED
    if isinstance(exc, ObjectNotFound):
        return UPLOAD_MISSING
    if isinstance(exc, StorageError):
        return STORAGE_DOWN
    if isinstance(exc, SQLAlchemyError):
        return DATABASE_DOWN
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY
    return INTERNAL

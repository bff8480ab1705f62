"""Who submitted a job (token fingerprint) and under which Idempotency-Key: tables of their own."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Text, Uuid, func, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import BadRequest, Conflict

from webapp.extensions import db
from webapp.storage import CHUNK_SIZE
from webapp.uploads import Submission

_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class JobOwner(db.Model):
    """The SHA-256 of the API token that submitted a job (only when API_TOKENS is set)."""

    __tablename__ = "job_owners"

    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    token_sha256: Mapped[str] = mapped_column(Text, nullable=False)


class IdempotencyKey(db.Model):
    """An Idempotency-Key seen at submit, the fingerprint of its request and the job it made."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(Text, primary_key=True)  # token SHA-256, "" when open
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_sha256: Mapped[str] = mapped_column(Text, nullable=False)
    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


def parse_idempotency_key(raw: str | None) -> str | None:
    """The header's value, or None; 1-255 visible ASCII characters."""
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters")
    return raw


def request_fingerprint(submission: Submission) -> str:
    """SHA-256 of the parameters and the upload (its bytes, or the id of a direct upload)."""
    digest = hashlib.sha256()
    params = (submission.pipeline_id, submission.frame_stride, submission.max_frames)
    digest.update(repr(params).encode())
    if submission.upload_id is not None:
        digest.update(b"upload:" + str(submission.upload_id).encode())
    else:
        assert submission.stream is not None
        while chunk := submission.stream.read(CHUNK_SIZE):
            digest.update(chunk)
        submission.stream.seek(0)
    return digest.hexdigest()


def replayed_job(owner: str | None, key: str, fingerprint: str) -> uuid.UUID | None:
    """The job an earlier request with this key made; 409 if that request was different."""
    row = db.session.get(IdempotencyKey, (owner or "", key))
    if row is None:
        return None
    if row.request_sha256 != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used with a different upload or parameters"
        )
    return row.job_id


def record(job_id: uuid.UUID, owner: str | None, key: str | None, fingerprint: str | None) -> None:
    """Add the owner and key rows to the session, to commit in the job row's transaction."""
    if owner:
        db.session.add(JobOwner(job_id=job_id, token_sha256=owner))
    if key and fingerprint:
        db.session.add(
            IdempotencyKey(owner=owner or "", key=key, request_sha256=fingerprint, job_id=job_id)
        )


def owner_of(job_id: uuid.UUID) -> str | None:
    """The fingerprint of the token that submitted the job, None if it was submitted openly."""
    return db.session.scalar(select(JobOwner.token_sha256).where(JobOwner.job_id == job_id))

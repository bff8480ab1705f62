"""The jobs table and its conditional status changes; the row is the truth about a job."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Integer, Text, Uuid, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class JobStatus(StrEnum):
    """The four states a job can be in."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


#: Coarse progress a client can show, derived from the status alone.
PROGRESS = {
    JobStatus.PENDING: 0.0,
    JobStatus.RUNNING: 0.5,
    JobStatus.COMPLETED: 1.0,
    JobStatus.FAILED: 1.0,
}


class Job(db.Model):
    """One submitted video and what became of it."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed')", name="ck_jobs_status"
        ),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    input_path: Mapped[str] = mapped_column(Text, nullable=False)
    output_path: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    pipeline_id: Mapped[str] = mapped_column(Text, nullable=False)
    frame_stride: Mapped[int | None] = mapped_column(Integer, server_default="1")
    max_frames: Mapped[int | None] = mapped_column(Integer)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; give every timestamp its offset."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def transition(
    job_id: uuid.UUID, from_statuses: Iterable[JobStatus], to_status: JobStatus, **values: Any
) -> bool:
    """Move a job to ``to_status`` only from one of ``from_statuses``; commit; say if it moved."""
    result = db.session.execute(
        update(Job)
        .where(Job.job_id == job_id, Job.status.in_([s.value for s in from_statuses]))
        .values(status=to_status.value, updated_at=func.now(), **values)
    )
    db.session.commit()
    return result.rowcount == 1


def unfinished_job_ids() -> list[str]:
    """Ids of jobs still pending or running, oldest first."""
    statuses = [JobStatus.PENDING.value, JobStatus.RUNNING.value]
    query = select(Job.job_id).where(Job.status.in_(statuses)).order_by(Job.created_at)
    return [str(job_id) for job_id in db.session.scalars(query)]

"""The jobs table and its conditional status changes; the row is the truth about a job."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    Uuid,
    exists,
    func,
    insert,
    select,
    update,
)
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


class JobRun(db.Model):
    """How often a job was claimed, and which run may still finish it (the latest claim)."""

    __tablename__ = "job_runs"

    job_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    claimed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; give every timestamp its offset."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _holds_run(job_id: uuid.UUID, run_id: uuid.UUID) -> ColumnElement[bool]:
    """True while ``run_id`` is the job's latest claim: an older run may no longer touch it."""
    return exists().where(JobRun.job_id == job_id, JobRun.run_id == run_id)


def transition(
    job_id: uuid.UUID,
    from_statuses: Iterable[JobStatus],
    to_status: JobStatus,
    run_id: uuid.UUID | None = None,
    **values: Any,
) -> bool:
    """Move a job to ``to_status`` only from one of ``from_statuses`` (and, given ``run_id``,
    only while that run holds the latest claim); commit; say if it moved."""
    conditions = [Job.job_id == job_id, Job.status.in_([s.value for s in from_statuses])]
    if run_id is not None:
        conditions.append(_holds_run(job_id, run_id))
    statement = update(Job).where(*conditions)
    result = db.session.execute(
        statement.values(status=to_status.value, updated_at=func.now(), **values)
    )
    db.session.commit()
    return result.rowcount == 1


def older_than(seconds: float) -> Any:
    """The moment ``seconds`` ago, by the database's clock where it has one (PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.now() - timedelta(seconds=seconds)
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=seconds)


def _claimable(stale_after: float) -> ColumnElement[bool]:
    """Pending, or running with an ``updated_at`` its worker stopped refreshing."""
    running_but_stale = (Job.status == JobStatus.RUNNING.value) & (
        Job.updated_at < older_than(stale_after)
    )
    return (Job.status == JobStatus.PENDING.value) | running_but_stale


@dataclass(frozen=True)
class Claim:
    """A won claim: this run's id and how many runs the job has had, this one included."""

    run_id: uuid.UUID
    attempts: int


def claim(job_id: uuid.UUID, stale_after: float) -> Claim | None:
    """Take a pending job, or a running one whose heartbeat is stale, in one transaction.

    The conditional UPDATE of the row decides who wins: PostgreSQL makes a second claimant
    wait for the first one's commit and then re-checks the condition, which no longer holds.
    A running row refreshed within ``stale_after`` seconds, or a finished one, is not taken.
    """
    moved = db.session.execute(
        update(Job)
        .where(Job.job_id == job_id, _claimable(stale_after))
        .values(status=JobStatus.RUNNING.value, updated_at=func.now(), error_message=None)
    )
    if moved.rowcount != 1:
        db.session.rollback()
        return None
    run_id = uuid.uuid4()
    bumped = db.session.execute(
        update(JobRun)
        .where(JobRun.job_id == job_id)
        .values(attempts=JobRun.attempts + 1, run_id=run_id, claimed_at=func.now())
    )
    if bumped.rowcount == 0:
        db.session.execute(insert(JobRun).values(job_id=job_id, attempts=1, run_id=run_id))
    attempts = db.session.scalar(select(JobRun.attempts).where(JobRun.job_id == job_id))
    db.session.commit()
    return Claim(run_id, attempts or 1)


def hand_back(job_id: uuid.UUID, run_id: uuid.UUID, refund: bool) -> bool:
    """Return a running job to ``pending`` for another worker; ``refund`` uncounts this run."""
    moved = transition(job_id, [JobStatus.RUNNING], JobStatus.PENDING, run_id=run_id)
    if moved and refund:
        db.session.execute(
            update(JobRun)
            .where(JobRun.job_id == job_id, JobRun.run_id == run_id, JobRun.attempts > 0)
            .values(attempts=JobRun.attempts - 1)
        )
        db.session.commit()
    return moved


def heartbeat_statement(job_id: uuid.UUID, run_id: uuid.UUID) -> Any:
    """The UPDATE a live run repeats to show it is alive: fresh ``updated_at``, nothing else."""
    return (
        update(Job)
        .where(
            Job.job_id == job_id,
            Job.status == JobStatus.RUNNING.value,
            _holds_run(job_id, run_id),
        )
        .values(updated_at=func.now())
    )


def attempts_of(job_id: uuid.UUID) -> int:
    """How many times the job has been claimed (0 if never)."""
    return db.session.scalar(select(JobRun.attempts).where(JobRun.job_id == job_id)) or 0


def lost_candidates(stale_after: float) -> list[str]:
    """Jobs that no live worker is known to hold: pending or running, untouched for a while."""
    query = (
        select(Job.job_id)
        .where(
            Job.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
            Job.updated_at < older_than(stale_after),
        )
        .order_by(Job.created_at)
    )
    return [str(job_id) for job_id in db.session.scalars(query)]


def release_running_jobs() -> int:
    """Move every running row back to ``pending``; only for a process that owns all work
    (the in-process queue at start), where no other run can be holding them."""
    moved = db.session.execute(
        update(Job)
        .where(Job.status == JobStatus.RUNNING.value)
        .values(status=JobStatus.PENDING.value, updated_at=func.now())
    )
    db.session.commit()
    return moved.rowcount


def unfinished_job_ids() -> list[str]:
    """Ids of jobs still pending or running, oldest first."""
    statuses = [JobStatus.PENDING.value, JobStatus.RUNNING.value]
    query = select(Job.job_id).where(Job.status.in_(statuses)).order_by(Job.created_at)
    return [str(job_id) for job_id in db.session.scalars(query)]

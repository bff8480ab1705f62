"""``flask --app webapp video ...``: operator commands on the deployed stack, plus the client.

Operators run these where the web and worker processes run, with the same environment
(DATABASE_URL, REDIS_URL, QUEUE_NAME): they read the jobs table and RQ's own records.
The client commands (submit, status, results, pipelines) only talk HTTP; see webapp.client.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from sqlalchemy import func, select

from webapp.client import CLIENT_COMMANDS
from webapp.extensions import db
from webapp.models import Job, JobStatus, as_utc

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

video_cli = AppGroup("video", help="Operate the job service, or use it as a client over HTTP.")


def parse_age(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h`` or ``7d`` as a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not an age like 90s, 15m, 2h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def age_text(moment: datetime, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, in the largest whole unit that fits."""
    seconds = int(((now or datetime.now(UTC)) - as_utc(moment)).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _rq_queue() -> Any | None:
    """The RQ queue of this deployment, or None on the in-process queue."""
    queue = current_app.extensions["video_queue"]
    return queue.rq_queue() if hasattr(queue, "rq_queue") else None


@video_cli.command("jobs")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this status (repeatable).",
)
@click.option("--older-than", type=parse_age, help="Only jobs created longer ago, e.g. 2h.")
@click.option("--newer-than", type=parse_age, help="Only jobs created more recently, e.g. 30m.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
def jobs_command(
    statuses: tuple[str, ...],
    older_than: timedelta | None,
    newer_than: timedelta | None,
    limit: int,
) -> None:
    """List jobs, newest first, with their status and age; counts by status at the end."""
    now = datetime.now(UTC)
    conditions = []
    if statuses:
        conditions.append(Job.status.in_(statuses))
    if older_than is not None:
        conditions.append(Job.created_at <= now - older_than)
    if newer_than is not None:
        conditions.append(Job.created_at >= now - newer_than)
    rows = db.session.scalars(
        select(Job).where(*conditions).order_by(Job.created_at.desc()).limit(limit)
    ).all()
    counts = dict(
        db.session.execute(
            select(Job.status, func.count()).where(*conditions).group_by(Job.status)
        ).all()
    )
    if not rows:
        click.echo("no jobs match")
        return
    click.echo(f"{'job_id':<36}  {'status':<9}  {'age':>5}  {'updated':>7}  pipeline")
    for job in rows:
        line = (
            f"{job.job_id!s:<36}  {job.status:<9}  {age_text(job.created_at, now):>5}  "
            f"{age_text(job.updated_at, now):>7}  {job.pipeline_id}"
        )
        if job.error_message:
            line += f"  ({job.error_message[:60]})"
        click.echo(line)
    summary = ", ".join(f"{counts.get(s.value, 0)} {s.value}" for s in JobStatus)
    shown = f"showing {len(rows)} of {sum(counts.values())}"
    click.echo(f"{shown}: {summary}")


def rq_state(job_id: str) -> dict[str, Any]:
    """What RQ knows about a job: its status there, times, worker, and queue position."""
    queue = _rq_queue()
    if queue is None:
        return {"queue": "in-process (no RQ; REDIS_URL is unset)"}
    try:
        rq_job = RQJob.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        return {"queue": queue.name, "rq_status": "not in Redis (no delivery pending)"}
    except RedisError as exc:
        return {"queue": queue.name, "rq_status": f"Redis unreachable: {exc}"}
    status = rq_job.get_status(refresh=False)
    state: dict[str, Any] = {
        "queue": rq_job.origin,
        "rq_status": getattr(status, "value", status),
        "enqueued_at": rq_job.enqueued_at,
        "started_at": rq_job.started_at,
        "ended_at": rq_job.ended_at,
        "worker": rq_job.worker_name,
    }
    position = queue.get_job_position(job_id)
    if position is not None:
        state["queue_position"] = position + 1
    result = rq_job.latest_result()
    if result is not None and result.exc_string:
        state["last_error"] = result.exc_string.strip().splitlines()[-1]
    return state


@video_cli.command("show")
@click.argument("job_id")
def show_command(job_id: str) -> None:
    """Show one job's row and what RQ knows about it."""
    try:
        job = db.session.get(Job, uuid.UUID(job_id))
    except ValueError:
        raise click.BadParameter(f"{job_id!r} is not a job id", param_hint="JOB_ID") from None
    if job is None:
        raise click.ClickException(f"no job {job_id} in the jobs table")
    fields: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status,
        "pipeline_id": job.pipeline_id,
        "frame_stride": job.frame_stride,
        "max_frames": job.max_frames,
        "created_at": as_utc(job.created_at).isoformat(),
        "updated_at": as_utc(job.updated_at).isoformat(),
        "age": age_text(job.created_at),
        "input_path": job.input_path,
        "output_path": job.output_path,
        "error_message": job.error_message,
    }
    fields.update({f"rq.{k}": v for k, v in rq_state(job_id).items()})
    width = max(len(k) for k in fields)
    for key, value in fields.items():
        if value is not None:
            click.echo(f"{key:<{width}}  {value}")


@video_cli.command("requeue-lost")
def requeue_lost_command() -> None:
    """Deliver again the jobs whose rows wait (pending, or running but silent) yet RQ lost.

    Safe to run at any time and more than once: a job delivered twice runs once.
    """
    from jobs.recovery import requeue_lost_jobs

    delivered = requeue_lost_jobs()
    for job_id in delivered:
        click.echo(f"delivered again: {job_id}")
    click.echo(f"{len(delivered)} lost job{'' if len(delivered) == 1 else 's'} delivered again")


@video_cli.command("prune")
@click.option(
    "--older-than-days",
    "days",
    type=click.IntRange(min=0),
    required=True,
    help="Delete jobs that finished more than this many days ago.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def prune_command(days: int, yes: bool) -> None:
    """Delete the rows and stored files of completed and failed jobs older than N days.

    Pending and running jobs are never touched.
    """
    from jobs.cleanup import prune_jobs

    if not yes:
        click.confirm(
            f"Delete every job that finished more than {days} days ago, with its files?",
            abort=True,
        )
    pruned = prune_jobs(days)
    click.echo(
        f"pruned {pruned} job{'' if pruned == 1 else 's'} finished more than {days} days ago"
    )


def register_cli(app: Flask) -> None:
    """Attach ``flask video ...`` to the app: operator commands and the HTTP client."""
    for command in CLIENT_COMMANDS:
        if command.name not in video_cli.commands:
            video_cli.add_command(command)
    app.cli.add_command(video_cli)

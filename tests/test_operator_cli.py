"""``flask --app webapp video jobs|show``: operator commands on PostgreSQL + Redis/RQ."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker
from rq.job import Job as RQJob
from sqlalchemy import update

from tests.conftest import submit_video
from webapp.cli import age_text, parse_age
from webapp.extensions import db
from webapp.models import Job

pytestmark = pytest.mark.integration


def cli(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["video", *args])
    return result.exit_code, result.output


def submit(app: Flask, video: Path) -> str:
    response = submit_video(app.test_client(), video, pipeline_id="exposure")
    assert response.status_code in (200, 202), response.json
    return response.json["job_id"]


def age(app: Flask, job_id: str, days: int) -> None:
    with app.app_context():
        when = datetime.now(UTC) - timedelta(days=days)
        db.session.execute(
            update(Job).where(Job.job_id == uuid.UUID(job_id)).values(created_at=when)
        )
        db.session.commit()


def drain(app: Flask) -> None:
    queue = app.extensions["video_queue"].rq_queue()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_jobs_lists_by_status_and_age(pg_app: Flask, video_30: Path) -> None:
    old, new = submit(pg_app, video_30), submit(pg_app, video_30)
    age(pg_app, old, days=3)

    code, output = cli(pg_app, "jobs")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["job_id", "status", "age", "updated", "pipeline"]
    assert [line.split()[0] for line in lines[1:3]] == [new, old]  # newest first
    assert lines[2].split()[1:3] == ["pending", "3d"]
    assert lines[-1] == "showing 2 of 2: 2 pending, 0 running, 0 completed, 0 failed"

    code, output = cli(pg_app, "jobs", "--older-than", "2d")
    assert new not in output and old in output
    code, output = cli(pg_app, "jobs", "--newer-than", "1h")
    assert new in output and old not in output
    code, output = cli(pg_app, "jobs", "--status", "completed")
    assert (code, output.strip()) == (0, "no jobs match")
    code, output = cli(pg_app, "jobs", "--older-than", "soon")
    assert code == 2 and "not an age like 90s, 15m, 2h or 7d" in output


def test_show_reports_the_row_and_rq_state(pg_app: Flask, video_30: Path) -> None:
    job_id = submit(pg_app, video_30)
    code, output = cli(pg_app, "show", job_id)
    assert code == 0, output
    fields = dict(line.split(None, 1) for line in output.splitlines())
    assert fields["status"] == "pending" and fields["pipeline_id"] == "exposure"
    assert fields["rq.rq_status"] == "queued" and fields["rq.queue_position"] == "1"
    assert fields["rq.queue"] == pg_app.config["QUEUE_NAME"]

    drain(pg_app)
    fields = dict(line.split(None, 1) for line in cli(pg_app, "show", job_id)[1].splitlines())
    assert fields["status"] == "completed" and fields["rq.rq_status"] == "finished"
    assert "rq.queue_position" not in fields and fields["output_path"].endswith(".json")


def test_show_explains_unknown_ids(pg_app: Flask) -> None:
    code, output = cli(pg_app, "show", str(uuid.uuid4()))
    assert code == 1 and "no job" in output
    code, output = cli(pg_app, "show", "nope")
    assert code == 2 and "'nope' is not a job id" in output


def test_ages_read_and_print_in_whole_units() -> None:
    assert parse_age("90s") == timedelta(seconds=90) and parse_age(" 7d") == timedelta(days=7)
    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert age_text(now - timedelta(hours=5, minutes=3), now) == "5h"
    assert age_text(now - timedelta(seconds=59), now) == "59s"


def age_updates(app: Flask, job_id: str, **delta: float) -> None:
    with app.app_context():
        when = datetime.now(UTC) - timedelta(**delta)
        db.session.execute(
            update(Job).where(Job.job_id == uuid.UUID(job_id)).values(updated_at=when)
        )
        db.session.commit()


def test_requeue_lost_delivers_only_what_the_queue_lost(pg_app: Flask, video_30: Path) -> None:
    kept, lost = submit(pg_app, video_30), submit(pg_app, video_30)
    for job_id in (kept, lost):
        age_updates(pg_app, job_id, hours=1)  # long silent, as after an outage
    queue = pg_app.extensions["video_queue"].rq_queue()
    RQJob.fetch(lost, connection=queue.connection).delete()  # Redis lost this one
    assert queue.job_ids == [kept]

    code, output = cli(pg_app, "requeue-lost")
    assert code == 0, output
    assert output.splitlines() == [f"delivered again: {lost}", "1 lost job delivered again"]
    assert sorted(queue.job_ids) == sorted([kept, lost])
    drain(pg_app)
    for job_id in (kept, lost):
        fields = dict(line.split(None, 1) for line in cli(pg_app, "show", job_id)[1].splitlines())
        assert fields["status"] == "completed"
    assert cli(pg_app, "requeue-lost")[1].strip() == "0 lost jobs delivered again"


def test_prune_deletes_old_finished_jobs_with_their_files(pg_app: Flask, video_30: Path) -> None:
    old, recent, waiting = (submit(pg_app, video_30) for _ in range(3))
    queue = pg_app.extensions["video_queue"].rq_queue()
    queue.remove(waiting)  # stays pending
    drain(pg_app)
    age_updates(pg_app, old, days=10)
    age_updates(pg_app, waiting, days=10)
    storage = Path(pg_app.config["STORAGE_URL"])
    assert any(p.name.startswith(old) for p in storage.iterdir())

    code, output = cli(pg_app, "prune", "--older-than-days", "7")  # no --yes, no answer
    assert code == 1 and "Aborted" in output
    code, output = cli(pg_app, "prune", "--older-than-days", "7", "--yes")
    assert (code, output.strip()) == (0, "pruned 1 job finished more than 7 days ago")
    listed = cli(pg_app, "jobs")[1]
    assert old not in listed and recent in listed and waiting in listed
    assert not any(p.name.startswith(old) for p in storage.iterdir())

"""Alembic owns the schema: up, down and no drift, on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import TEST_DATABASE_URL, _service_missing, alembic_config
from webapp.config import normalise_database_url

EXPECTED_COLUMNS = {
    "job_id": (False, "UUID"),
    "status": (False, "TEXT"),
    "created_at": (False, "TIMESTAMP"),
    "updated_at": (False, "TIMESTAMP"),
    "input_path": (False, "TEXT"),
    "output_path": (True, "TEXT"),
    "error_message": (True, "TEXT"),
    "pipeline_id": (False, "TEXT"),
    "frame_stride": (True, "INTEGER"),
    "max_frames": (True, "INTEGER"),
}


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A brand-new, empty PostgreSQL database for this test only."""
    admin = sa.create_engine(
        normalise_database_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT"
    )
    name = f"video_jobs_migrate_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        _service_missing("PostgreSQL", exc)
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_postgres_upgrade_check_and_downgrade(empty_postgres: str) -> None:
    config = alembic_config(empty_postgres)
    command.upgrade(config, "head")
    command.check(config)  # raises if the models and the migrations disagree
    engine = sa.create_engine(empty_postgres)
    try:
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns("jobs")}
        found = {n: (c["nullable"], str(c["type"]).split("(")[0]) for n, c in columns.items()}
        assert found == EXPECTED_COLUMNS
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                sa.text(
                    "INSERT INTO jobs (job_id, status, input_path, pipeline_id) "
                    "VALUES (gen_random_uuid(), 'exploded', 'x', 'frame_stats')"
                )
            )
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO jobs (job_id, status, input_path, pipeline_id) "
                    "VALUES (gen_random_uuid(), 'pending', 'x', 'frame_stats')"
                )
            )
            row = conn.execute(sa.text("SELECT frame_stride, created_at FROM jobs")).one()
            assert row.frame_stride == 1 and row.created_at.tzinfo is not None
    finally:
        engine.dispose()
    command.downgrade(config, "base")
    assert "jobs" not in _tables(empty_postgres)
    command.upgrade(config, "head")
    assert "jobs" in _tables(empty_postgres)


def test_sqlite_upgrade_check_and_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.check(config)
    assert "jobs" in _tables(url)
    command.downgrade(config, "base")
    assert "jobs" not in _tables(url)

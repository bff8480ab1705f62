"""Alembic owns the schema: up, down and no drift, on PostgreSQL and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import alembic_config

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

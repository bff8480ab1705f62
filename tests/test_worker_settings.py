"""jobs.worker_settings: what `rq worker -c jobs.worker_settings` does in the worker's parent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import alembic_config

REPO = Path(__file__).resolve().parent.parent

_CHECK = """
import os, sys
import jobs.worker_settings as settings
from webapp.extensions import db
assert {"numpy", "moviepy.config", "pipelines.service"} <= set(sys.modules)
app = settings.worker_app()
with app.app_context():
    parent_pool = db.engine.pool
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
pid = os.fork()
if pid == 0:
    with app.app_context():
        fresh = db.engine.pool is not parent_pool
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    os._exit(0 if fresh else 3)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


def test_worker_parent_is_warmed_and_each_fork_opens_its_own_connections(tmp_path: Path) -> None:
    from alembic import command

    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    command.upgrade(alembic_config(db_url), "head")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "STORAGE_URL": str(tmp_path / "storage"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child 0"
    assert "not compiled" not in done.stderr

"""Real processes for fault tests: the Procfile's worker and clock lines on an isolated stack.

Each `Stack` has its own scratch PostgreSQL database, storage folder and RQ queue, and
starts the Procfile's own `worker` and `clock` command lines as subprocesses with short
heartbeat and recovery intervals. `private_redis` runs a redis-server of its own on a free
port, so that a test may flush or restart it without touching the shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from flask import Flask
from redis import Redis
from rq import Queue

from tests.conftest import alembic_config, scratch_database, submit_video
from tests.videos import make_testsrc
from webapp import create_app
from webapp.config import normalise_database_url

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Short intervals so that a lost job is noticed within seconds, not half a minute.
FAST = {
    "HEARTBEAT_SECONDS": "1",
    "HEARTBEAT_STALE_SECONDS": "3",
    "RECOVERY_INTERVAL_SECONDS": "1",
    "JOB_MAX_ATTEMPTS": "2",
}


def fault_video(folder: Path) -> Path:
    """360 frames of 1280x720 test pattern: a job of a second or two, long enough to hurt."""
    return make_testsrc(folder / "fault_720p_12s.mp4", seconds=12, width=1280, height=720)


def procfile_line(name: str) -> str:
    """The command of one Procfile process type."""
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)[name].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, parents first (from /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def signal_all(pids: list[int], sig: int) -> None:
    """Send ``sig`` to each process that still exists."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def is_ffmpeg(pid: int) -> bool:
    """Whether ``pid`` runs the bundled ffmpeg (its name is ffmpeg-linux-..., cut to 15)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("ffmpeg")
    except OSError:
        return False


class Stack:
    """One isolated service: database, storage, queue, the Flask app as the web tier, and
    the Procfile's worker and clock processes, all stopped by `close`."""

    def __init__(self, database_url: str, redis_url: str, root: Path, **settings: str) -> None:
        self.root, self.settings = root, {**FAST, **settings}
        self.queue_name = f"fault_{uuid.uuid4().hex[:10]}"
        storage = root / "storage"
        config: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
            "REDIS_URL": redis_url,
            "QUEUE_NAME": self.queue_name,
            "STORAGE_URL": str(storage),
            **{k: int(v) for k, v in self.settings.items() if k != "RECOVERY_INTERVAL_SECONDS"},
        }
        self.app: Flask = create_app(config)
        self.client = self.app.test_client()
        self.env = {
            **os.environ,
            **self.settings,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "QUEUE_NAME": self.queue_name,
            "STORAGE_URL": str(storage),
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []

    def start(self, kind: str) -> subprocess.Popen[bytes]:
        """Start the Procfile's ``kind`` line (worker, clock) in a session of its own."""
        log_path = self.root / f"{kind}-{len(self.processes)}.log"
        self._logs.append(log_path)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["bash", "-c", procfile_line(kind)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self._logs if p.exists())

    def submit(self, video: Path, **fields: str) -> str:
        response = submit_video(self.client, video, **fields)
        assert response.status_code == 202, response.json
        return response.json["job_id"]

    def status(self, job_id: str) -> dict[str, Any]:
        return self.client.get(f"/video/status/{job_id}").json

    def results(self, job_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/video/results/{job_id}")
        assert response.status_code == 200, response.json
        return response.json["results"]

    def wait_for(
        self, job_id: str, statuses: set[str], seconds: float, poll: float = 0.05
    ) -> dict[str, Any]:
        """Poll the status like a client until it is one of ``statuses``."""
        deadline = time.monotonic() + seconds
        while True:
            body = self.status(job_id)
            if body["status"] in statuses:
                return body
            assert time.monotonic() < deadline, (
                f"job {job_id} still {body['status']} after {seconds} s:\n{self.logs()[-6000:]}"
            )
            time.sleep(poll)

    def wait_until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, f"{what} within {seconds} s:\n{self.logs()[-6000:]}"
            time.sleep(0.05)

    def attempts(self, job_id: str) -> int:
        with self.app.app_context():
            from webapp.extensions import db

            query = sa.text("SELECT attempts FROM job_runs WHERE job_id = :id")
            value = db.session.execute(query, {"id": uuid.UUID(job_id)}).scalar()
            db.session.remove()
        return value or 0

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                signal_all(process_tree(process.pid), signal.SIGKILL)
            process.wait(timeout=30)
        with self.app.app_context():
            from webapp.extensions import db

            db.engine.dispose()
        queue = self.app.extensions["video_queue"]
        with suppress(Exception):  # a private Redis may already be gone
            queue.rq_queue().delete(delete_jobs=True)
            Queue(f"{self.queue_name}_recovery", connection=queue.rq_queue().connection).delete()
        queue.rq_queue().connection.close()


@contextmanager
def stacks(redis_url: str, root: Path, count: int = 1, **settings: str) -> Iterator[list[Stack]]:
    """``count`` isolated stacks on scratch databases, closed whatever happens."""
    with ExitStack() as exits:
        made = []
        for n in range(count):
            url = exits.enter_context(scratch_database("video_jobs_faults"))
            command.upgrade(alembic_config(url), "head")
            stack_root = root / f"stack{n}"
            stack_root.mkdir()
            stack = Stack(url, redis_url, stack_root, **settings)
            exits.callback(stack.close)
            made.append(stack)
        yield made


class PrivateRedis:
    """A redis-server of this test's own, keeping nothing on disk, that it may restart."""

    def __init__(self, root: Path) -> None:
        self.port, self.root = free_port(), root
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except Exception:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def client(self) -> Redis:
        return Redis(port=self.port, socket_connect_timeout=2)

    def restart(self) -> None:
        """Kill it (everything in it is lost) and start it again on the same port."""
        self.stop()
        self.start()


@contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    server = PrivateRedis(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()

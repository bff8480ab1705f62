"""The in-process queue as `serve` runs it: a real server process, killed and restarted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from tests.conftest import alembic_config
from tests.videos import FFMPEG

REPO = Path(__file__).resolve().parent.parent
TERMINAL = ("completed", "failed")


@pytest.fixture(scope="module")
def long_job_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30,000 tiny frames (30 s at 1000 fps): a small file whose job runs for many seconds."""
    path = tmp_path_factory.mktemp("long-job") / "many_frames.mp4"
    source = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1000"]
    codec = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    quiet = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*quiet, *source, "-t", "30", *codec, str(path)], check=True)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`flask run` on embedded defaults (SQLite, local storage, in-process queue)."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.tmp_path, self.port = tmp_path, _free_port()
        self.work_dir = tmp_path / "work"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
            "STORAGE_URL": str(tmp_path / "storage"),
            "WORK_DIR": str(self.work_dir),
            "PYTHONPATH": str(REPO),
            **settings,
        }
        self.env.pop("REDIS_URL", None)
        command.upgrade(alembic_config(self.env["DATABASE_URL"]), "head")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.tmp_path / "server.log").open("ab") as log:
            flask = [sys.executable, "-m", "flask", "--app", "webapp:create_app", "run"]
            self.proc = subprocess.Popen(
                [*flask, "--port", str(self.port)],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/video/pipelines")
                return
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the server process alone, as a crash or `kill -9` would."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def get(self, path: str) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)

    def submit(self, video: Path, **fields: str) -> str:
        boundary = "hygboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="clip.mp4"\r\nContent-Type: video/mp4\r\n\r\n'.encode()
            + video.read_bytes()
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/video/submit",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["job_id"]

    def status(self, job_id: str) -> dict:
        return self.get(f"/video/status/{job_id}")

    def wait_for(self, job_id: str, statuses: tuple[str, ...], seconds: float = 60) -> dict:
        deadline = time.monotonic() + seconds
        while (status := self.status(job_id))["status"] not in statuses:
            assert time.monotonic() < deadline, f"job {job_id} stayed {status['status']}"
            time.sleep(0.1)
        return status

    def job_processes(self) -> list[str]:
        """Live processes of this server's jobs: its environment, a session of their own.

        The server, its fork server and RQ-less helpers stay in the test's session; a job's
        process leads a new session, which its ffmpeg shares.
        """
        marker = f"WORK_DIR={self.work_dir}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if marker not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError):
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[3]) != os.getsid(0):
                found.append(f"{entry.name}: {cmdline}")
        return found

    def job_leader(self) -> int | None:
        """The pid of the running job's own process (it leads its session), if any."""
        for line in self.job_processes():
            pid = int(line.split(":", 1)[0])
            if os.getsid(pid) == pid:
                return pid
        return None

    def job_dirs(self) -> list[str]:
        return sorted(p.name for p in self.work_dir.glob("video-job-*"))


@contextmanager
def running_server(tmp_path: Path, **settings: str) -> Iterator[Server]:
    server = Server(tmp_path, **settings)
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(timeout=30)


def _wait(condition: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return value


def _wait_until_gone(server: Server, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while server.job_processes():
        assert time.monotonic() < deadline, server.job_processes()
        time.sleep(0.1)


def test_a_killed_job_runs_again_a_job_over_job_timeout_is_killed_and_the_next_one_runs(
    tmp_path: Path, long_job_video: Path, video_30: Path
) -> None:
    with running_server(tmp_path, JOB_TIMEOUT="4") as server:
        endless = server.submit(long_job_video)
        normal = server.submit(video_30, max_frames="3")
        assert server.wait_for(endless, ("running",))["status"] == "running"
        first = _wait(server.job_leader)
        os.kill(first, signal.SIGKILL)  # its process dies, as the out-of-memory killer does
        _wait(lambda: server.job_leader() not in (None, first))  # it runs again, anew
        failed = server.wait_for(endless, TERMINAL, seconds=30)
        assert failed["status"] == "failed"
        assert failed["error_message"].startswith("the job timed out after 4 s (JOB_TIMEOUT)")
        assert server.wait_for(normal, TERMINAL, seconds=60)["status"] == "completed"
        assert len(server.get(f"/video/results/{normal}")["results"]) == 3
        _wait_until_gone(server)  # the killed job's ffmpeg went with it
        assert server.job_dirs() == []


def test_kill_9_and_restart_resume_pending_first_and_give_up_on_a_job_that_keeps_dying(
    tmp_path: Path, long_job_video: Path, video_30: Path
) -> None:
    server = Server(tmp_path, JOB_TIMEOUT="600", JOB_MAX_ATTEMPTS="2")
    try:
        server.start()
        doomed = server.submit(long_job_video)
        server.wait_for(doomed, ("running",))
        normal = server.submit(video_30, max_frames="2")
        _wait(lambda: server.job_dirs() and len(server.job_processes()) >= 2)  # job + ffmpeg
        server.kill()
        _wait_until_gone(server)  # the job's process and its ffmpeg died with the server
        stale = server.job_dirs()
        assert len(stale) == 1  # left behind by the killed job

        server.start()  # first restart: the pending job first, then the resumed one
        assert stale[0] not in server.job_dirs()  # swept at start
        assert server.wait_for(normal, TERMINAL)["status"] == "completed"
        _wait(lambda: server.job_dirs() and len(server.job_processes()) >= 2)  # resumed
        server.kill()
        _wait_until_gone(server)

        server.start()  # second restart: its third run would exceed JOB_MAX_ATTEMPTS=2
        failed = server.wait_for(doomed, TERMINAL, seconds=20)
        assert failed["status"] == "failed"
        assert failed["error_message"].startswith("the worker stopped 2 times")
        assert server.job_dirs() == []  # swept at start
        assert not (tmp_path / "storage" / f"{doomed}.mp4").exists()  # over: upload deleted
        assert server.status(normal)["status"] == "completed"
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()

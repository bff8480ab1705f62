"""tools/smoke_test.sh: passes against the real service, fails against any deviation.

The real service runs in a subprocess (gunicorn, as in the Procfile) on embedded defaults:
SQLite migrated by `alembic upgrade head`, local storage, the in-process queue. A stub
HTTP server that answers like the service, except for one deliberate deviation per case,
proves that each check of the script can fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "smoke_test.sh"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_script(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_script_is_executable_bash_with_strict_mode() -> None:
    text = SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SCRIPT, os.X_OK)


def test_missing_base_url_is_a_usage_error() -> None:
    proc = run_script()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


# --------------------------------------------------------------------------- the real service


@pytest.fixture
def live_service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service on a free port, as the Procfile's web line runs it; stopped on every path."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "QUEUE_NAME")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STORAGE_URL=str(tmp_path / "storage"),
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
        "--timeout",
        "120",
        "webapp:create_app()",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url, server, log_path)
            yield base_url, tmp_path / "storage"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/video/pipelines", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer within 30 s:\n{log_path.read_text()}")


def test_smoke_script_passes_against_the_real_service(live_service: tuple[str, Path]) -> None:
    base_url, storage = live_service
    proc = run_script(base_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"PASS: all 6 checks passed against {base_url}" in proc.stdout
    assert "FAIL" not in proc.stdout
    # The job really ran in the service: its results are in storage, its upload is deleted.
    job_id = re.search(r'"job_id": "([0-9a-f-]{36})"', proc.stdout).group(1)
    assert sorted(p.name for p in storage.iterdir()) == [
        f"{job_id}_results.index",
        f"{job_id}_results.json",
    ]
    stored = json.loads((storage / f"{job_id}_results.json").read_text())
    assert [r["frame_index"] for r in stored["results"]] == [0, 2, 4, 6, 8]


# --------------------------------------------------------------------------- a lying stub

JOB_ID = "3f2b8a34-5c1d-4e6f-9a7b-0c1d2e3f4a5b"
STAMP = "2026-11-28T12:00:00+00:00"


def good_results() -> dict[str, Any]:
    frames = [{"frame_index": i, "result": {"timestamp_ms": i * 33.333}} for i in (0, 2, 4, 6, 8)]
    return {"job_id": JOB_ID, "results": frames, "created_at": STAMP, "updated_at": STAMP}


def good_status() -> dict[str, Any]:
    return {
        "job_id": JOB_ID,
        "status": "completed",
        "progress": 1.0,
        "created_at": STAMP,
        "updated_at": STAMP,
    }


def good_answers() -> dict[str, tuple[int, Any]]:
    """What the real service answers to each of the script's requests."""
    return {
        "submit": (202, {"job_id": JOB_ID}),
        "status": (200, good_status()),
        "results": (200, good_results()),
        "reject": (400, {"detail": "the uploaded file is not an MP4/MOV video"}),
        "unknown": (404, {"detail": "no job 00000000-0000-4000-8000-000000000000"}),
    }


class Stub:
    """An HTTP server in a thread answering from a table; a str body is sent as it is."""

    def __init__(self, answers: dict[str, tuple[int, Any]]) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, kind: str) -> None:
                code, body = stub.answers[kind]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                is_video = self.path == "/video/submit" and b"ftyp" in body
                self._answer("submit" if is_video else "reject")

            def do_GET(self) -> None:
                if self.path == f"/video/status/{JOB_ID}":
                    self._answer("status")
                elif self.path == f"/video/results/{JOB_ID}":
                    self._answer("results")
                else:
                    self._answer("unknown")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.answers = answers
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_smoke_script_passes_against_a_faithful_stub() -> None:
    """The stub harness is sound: without a deviation the script passes."""
    with Stub(good_answers()) as stub:
        proc = run_script(stub.url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout


def _results(**changes: Any) -> dict[str, Any]:
    return {**good_results(), **changes}


def _frames(indices: list[int], result: Any = None) -> list[dict[str, Any]]:
    return [{"frame_index": i, "result": result or {"timestamp_ms": 0.0}} for i in indices]


DEVIATIONS = {
    "submit-extra-key": ("submit", (202, {"job_id": "x", "extra": 1}), "exactly the key job_id"),
    "submit-not-uuid": ("submit", (202, {"job_id": "x"}), "job_id is not a UUID"),
    "submit-status": ("submit", (201, {"job_id": JOB_ID}), "expected HTTP 202, got 201"),
    "submit-not-json": ("submit", (202, "<html>ok</html>"), "not JSON"),
    "job-failed": (
        "status",
        (200, {**good_status(), "status": "failed", "error_message": "boom"}),
        "the job failed: 'boom'",
    ),
    "status-other-job": ("status", (200, {**good_status(), "job_id": "y"}), "not " + JOB_ID),
    "status-unknown": ("status", (200, {**good_status(), "status": "done"}), "unknown status"),
    "results-extra-key": ("results", (200, _results(extra=1)), "expected keys"),
    "results-missing-key": (
        "results",
        (200, {k: v for k, v in good_results().items() if k != "updated_at"}),
        "expected keys",
    ),
    "results-four-frames": ("results", (200, _results(results=_frames([0, 2, 4, 6]))), "5 frame"),
    "results-wrong-stride": (
        "results",
        (200, _results(results=_frames([0, 1, 2, 3, 4]))),
        "expected frame_index 0, 2, 4, 6, 8",
    ),
    "results-no-timestamp": (
        "results",
        (200, _results(results=_frames([0, 2, 4, 6, 8], {"brightness": 0.5}))),
        "no numeric timestamp_ms",
    ),
    "results-404": ("results", (404, {"detail": "gone"}), "expected HTTP 200, got 404"),
    "non-mp4-accepted": ("reject", (200, {"job_id": JOB_ID}), "expected HTTP 400, got 200"),
    "non-mp4-html-error": ("reject", (400, "<p>bad</p>"), "not JSON"),
    "non-mp4-no-detail": ("reject", (400, {"error": "bad"}), 'exactly {"detail"'),
    "unknown-job-200": ("unknown", (200, good_status()), "expected HTTP 404, got 200"),
    "unknown-job-text": ("unknown", (404, "Not Found"), "not JSON"),
}


@pytest.mark.parametrize("case", sorted(DEVIATIONS))
def test_smoke_script_fails_on_each_deviation(case: str) -> None:
    kind, answer, reason = DEVIATIONS[case]
    with Stub({**good_answers(), kind: answer}) as stub:
        proc = run_script(stub.url)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL - " in proc.stdout and reason in proc.stdout, proc.stdout
    assert "PASS" not in proc.stdout


def test_smoke_script_gives_up_on_a_job_that_never_completes() -> None:
    pending = (200, {**good_status(), "status": "pending", "progress": 0.0})
    with Stub({**good_answers(), "status": pending}) as stub:
        started = time.monotonic()
        proc = run_script(stub.url, SMOKE_TIMEOUT="2")
        elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert f"job {JOB_ID} still pending after 2s" in proc.stdout
    assert elapsed < 30


def test_smoke_script_fails_when_nothing_listens() -> None:
    proc = run_script(f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 1
    assert "submit: expected HTTP 202, got 000" in proc.stdout


# --------------------------------------------------------------------------- the Procfile


@pytest.fixture
def procfile_service(
    empty_postgres: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """The README's way: the Procfile's release, then plain `honcho start` on Procfile.dev."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "DATABASE_URL": empty_postgres,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": f"procfile_{uuid.uuid4().hex[:10]}",
        "STORAGE_URL": str(tmp_path / "storage"),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "PROCFILE": "Procfile.dev",
    }
    lines = dict(
        line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line
    )
    release = subprocess.run(
        ["bash", "-c", lines["release"].strip()], cwd=REPO, env=env, capture_output=True
    )
    assert release.returncode == 0, release.stderr
    log_path = tmp_path / "honcho.log"
    with log_path.open("wb") as log:
        honcho = subprocess.Popen(
            [str(Path(bin_dir) / "honcho"), "start"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            base_url = f"http://127.0.0.1:{env['PORT']}"
            wait_until_up(base_url, honcho, log_path)
            yield base_url, log_path
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait(timeout=20)


def test_procfile_serves_with_a_stock_rq_worker(procfile_service: tuple[str, Path]) -> None:
    base_url, log_path = procfile_service
    proc = run_script(base_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr + log_path.read_text()
    job_id = re.search(r'"job_id": "([0-9a-f-]{36})"', proc.stdout).group(1)
    log = log_path.read_text()
    assert "worker.1 | " in log and f"job {job_id}: completed" in log
    assert re.search(r"^\S+ clock\.1 +\| ", log, re.M), "plain honcho start runs every line"
    assert " stopped (rc=" not in log, log

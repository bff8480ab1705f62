"""The Procfile's web line under real clients: slow ones, slow uploads, gzip, bad settings."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.browser import chromium_paths
from tests.faults import free_port

REPO = Path(__file__).resolve().parent.parent


def procfile_line(name: str) -> str:
    """The command of one Procfile process type, exactly as committed."""
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name}: line in the Procfile")


def service_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Embedded defaults in ``tmp_path``: SQLite migrated to head, local storage, no Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "QUEUE_NAME")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        STORAGE_URL=str(tmp_path / "storage"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        **extra,
    )
    return env


@contextmanager
def procfile_web(tmp_path: Path, **extra: str) -> Iterator[str]:
    """Run the Procfile's web line on a free port; yield its base URL; stop it on every path."""
    env = service_env(tmp_path, PORT=str(free_port()), **extra)
    migrate = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO, env=env, check=False
    )
    assert migrate.returncode == 0
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["bash", "-c", "exec " + procfile_line("web")],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{env['PORT']}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, log_path.read_text()
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def submit(base: str, video: Path, **fields: str) -> str:
    with video.open("rb") as fh:
        response = requests.post(
            f"{base}/video/submit", files={"file": ("clip.mp4", fh)}, data=fields, timeout=30
        )
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def wait_completed(base: str, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while requests.get(f"{base}/video/status/{job_id}", timeout=5).json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_slow_clients_do_not_block_status_and_slow_uploads_finish(
    tmp_path: Path, video_30: Path
) -> None:
    """Two clients that send half a request and stall; an upload at ~250 KB/s for ~6 s.

    The worker timeout is lowered to 3 s: a sync worker would be killed mid-upload.
    """
    with procfile_web(tmp_path, GUNICORN_CMD_ARGS="--timeout 3") as base:
        port = int(base.rsplit(":", 1)[1])
        stalled = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /video/submit HTTP/1.1\r\nHost: x\r\n")
            stalled.append(sock)
        try:
            job_id = submit(base, video_30, max_frames="2")
            started = time.monotonic()
            status = requests.get(f"{base}/video/status/{job_id}", timeout=5)
            assert status.status_code == 200 and time.monotonic() - started < 1.0

            payload = video_30.read_bytes() + b"\0" * (1_500_000 - video_30.stat().st_size)

            def trickle() -> Iterator[bytes]:
                boundary = b"--slowupload\r\n"
                yield (
                    boundary
                    + b'Content-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
                )
                for start in range(0, len(payload), 25_000):
                    yield payload[start : start + 25_000]
                    time.sleep(0.1)  # ~250 KB/s
                yield b"\r\n--slowupload--\r\n"

            started = time.monotonic()
            response = requests.post(
                f"{base}/video/submit",
                data=trickle(),
                headers={"Content-Type": "multipart/form-data; boundary=slowupload"},
                timeout=60,
            )
            elapsed = time.monotonic() - started
            assert response.status_code == 202, response.text
            assert elapsed > 4, elapsed  # it really was slower than the worker timeout
        finally:
            for sock in stalled:
                sock.close()


def test_gzip_results_decode_in_curl_requests_and_chromium(tmp_path: Path, video_30: Path) -> None:
    with procfile_web(tmp_path) as base:
        job_id = submit(base, video_30, frame_stride="2")
        wait_completed(base, job_id)
        url = f"{base}/video/results/{job_id}"
        plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
        assert "Content-Encoding" not in plain.headers
        expected = plain.json()
        assert [r["frame_index"] for r in expected["results"]] == list(range(0, 30, 2))

        packed = requests.get(url, timeout=10)  # requests asks for gzip and decodes it
        assert packed.headers["Content-Encoding"] == "gzip" and packed.json() == expected
        raw = requests.get(url, timeout=10, stream=True).raw.read(decode_content=False)
        assert json.loads(gzip.decompress(raw)) == expected

        curl = shutil.which("curl")
        if curl:
            out = subprocess.run(
                [curl, "-sS", "--compressed", url], capture_output=True, check=True, timeout=30
            )
            assert json.loads(out.stdout) == expected

        browser, _ = chromium_paths()
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        shown = re.search(r"<pre[^>]*>(.*?)</pre>", dom, re.S)
        assert shown, dom[:500]
        assert json.loads(shown.group(1).replace("&quot;", '"').replace("&amp;", "&")) == expected


@pytest.mark.parametrize(
    "command",
    [
        "alembic upgrade head",
        "flask --app webapp:create_app routes",
        "web",
        "rq worker -c jobs.worker_settings --url redis://127.0.0.1:1/0 --burst video_jobs",
    ],
)
def test_a_bad_setting_is_one_line_and_a_non_zero_exit(tmp_path: Path, command: str) -> None:
    line = procfile_line("web") if command == "web" else command
    env = service_env(tmp_path, MAX_UPLOAD_MB="abc", PORT=str(free_port()))
    done = subprocess.run(
        ["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if "MAX_UPLOAD_MB" in ln]
    assert lines == ["configuration error: MAX_UPLOAD_MB must be a whole number, not 'abc'"]
    assert "Traceback" not in done.stderr, done.stderr

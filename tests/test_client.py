"""The command-line client against a real server on a loopback port (HTTP only)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from tests.browser import serve_in_thread
from webapp.client import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(sqlite_app: Flask) -> Iterator[str]:
    with serve_in_thread(sqlite_app) as url:
        yield url


def run(server: str, *args: str) -> Result:
    return CliRunner().invoke(main, [args[0], "--server", server, *args[1:]])


def corrupt_video(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x17" * 5000)
    return path


def test_pipelines_lists_the_default(server: str) -> None:
    result = run(server, "pipelines")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("* frame_stats ") for line in lines)
    assert any(line.startswith("  exposure ") for line in lines)
    as_json = json.loads(run(server, "pipelines", "--json").stdout)
    assert as_json["default_pipeline_id"] == "frame_stats"


def test_submit_wait_then_status_and_results(server: str, video_30: Path, tmp_path: Path) -> None:
    result = run(
        server, "submit", str(video_30), "--pipeline", "exposure", "--stride", "3",
        "--max-frames", "4", "--wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    assert len(job_id) == 36 and "completed" in result.stderr

    status = run(server, "status", job_id)
    assert status.exit_code == 0 and status.stdout.startswith(f"{job_id}  completed  100%")

    out = tmp_path / "results.json"
    saved = run(server, "results", job_id, "-o", str(out))
    assert saved.exit_code == 0 and "wrote 4 frames" in saved.stderr
    document = json.loads(out.read_text())
    assert document["job_id"] == job_id
    assert [f["frame_index"] for f in document["results"]] == [0, 3, 6, 9]

    table = run(server, "results", job_id, "--csv")
    rows = list(csv.reader(io.StringIO(table.stdout)))
    assert rows[0][:2] == ["frame_index", "timestamp_ms"] and "brightness" in rows[0]
    assert [r[0] for r in rows[1:]] == ["0", "3", "6", "9"]
    column = rows[0].index("is_black")
    assert {r[column] for r in rows[1:]} <= {"true", "false"}


def test_failed_job_exits_non_zero_with_its_message(server: str, tmp_path: Path) -> None:
    result = run(server, "submit", str(corrupt_video(tmp_path)), "--wait")
    assert result.exit_code == 1
    job_id = result.stdout.strip()
    message = json.loads(run(server, "status", job_id, "--json").stdout)["error_message"]
    assert message and f"s: {message}\n" in result.stderr and "failed after" in result.stderr
    status = run(server, "status", job_id)
    assert status.exit_code == 1 and f"error: {message}" in status.stdout
    results = run(server, "results", job_id)
    assert results.exit_code == 3 and "HTTP 404" in results.stderr and "failed" in results.stderr


def test_server_errors_print_their_detail_not_a_traceback(server: str, tmp_path: Path) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    result = run(server, "submit", str(not_video))
    assert result.exit_code == 3
    assert result.stderr.startswith("error: HTTP 400: the uploaded file is not an MP4/MOV video")
    missing = run(server, "status", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 3 and "HTTP 404: no job" in missing.stderr
    for answer in (result, missing):
        assert isinstance(answer.exception, SystemExit) and "Traceback" not in answer.output


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    result = run(f"http://127.0.0.1:{port}", "pipelines")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_while_waiting_exits_cleanly(
    sqlite_app: Flask, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_app.extensions["video_queue"], "enqueue", lambda job_id: None)
    with serve_in_thread(sqlite_app) as url:
        job_id = run(url, "submit", str(video_30)).stdout.strip()
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.client", "status", job_id, "--wait", "--server", url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            # Interrupt once it is waiting (its first status line), not while Python starts:
            # on a loaded machine that can take longer than any fixed sleep.
            first = proc.stderr.readline() if proc.stderr else ""
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=10)
            err = first + err
        finally:
            proc.kill()
    assert proc.returncode == 130
    assert "pending" in err and "interrupted" in err and "Traceback" not in err


def test_the_flask_way_reaches_the_same_commands(sqlite_app: Flask, server: str) -> None:
    result = sqlite_app.test_cli_runner().invoke(args=["video", "pipelines", "--server", server])
    assert result.exit_code == 0, result.output
    assert "* frame_stats" in result.output


def wait_for_line(lines: list[str], needle: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(needle in line for line in lines):
        assert time.monotonic() < deadline, f"no {needle!r} in {lines}"
        time.sleep(0.05)


def test_wait_rides_out_a_server_restart(
    sqlite_app: Flask, video_30: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = sqlite_app.extensions["video_queue"]
    held: list[str] = []
    monkeypatch.setattr(queue, "enqueue", held.append)  # the job waits until we release it
    errors: list[str] = []
    with serve_in_thread(sqlite_app) as url:
        job_id = run(url, "submit", str(video_30)).stdout.strip()
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.client", "status", job_id, "--wait", "--server", url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
        reader.start()
        wait_for_line(errors, "pending")
    try:  # the server is down now: the client says so and keeps trying
        wait_for_line(errors, "trying again in")
        assert proc.poll() is None
        port = int(url.rsplit(":", 1)[1])
        with serve_in_thread(sqlite_app, port=port):
            monkeypatch.undo()
            queue.enqueue(held[0])
            assert proc.wait(timeout=60) == 0, errors
            out = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    assert out.startswith(f"{job_id}  completed")
    assert any("cannot reach" in line for line in errors)
    assert not any("Traceback" in line for line in errors)

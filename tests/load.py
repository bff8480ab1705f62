"""A load run against the Procfile's processes while one worker is killed and restarted.

Shared by `bench/bench_load.py` (200 submissions, 16 clients) and the smaller suite test.
gunicorn runs the Procfile's `web` line with 2 processes, two `worker` lines and the
`clock` line run beside it; N clients submit the same camera-like clip concurrently; when
half the submissions are in, every process of the first worker is SIGKILLed and a new
worker is started. Then every job must end completed, once, with the undisturbed results.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.faults import Stack, free_port, process_tree, signal_all
from tests.videos import FFMPEG


def make_camera_like(path: Path, seconds: float, width: int, height: int) -> Path:
    """ffmpeg's testsrc2 with temporal noise, H.264 crf 23: decodes like a camera's video."""
    source = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30"]
    codec = ["-vf", "noise=alls=20:allf=t", "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"]
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *source, "-t", str(seconds)]
    subprocess.run([*command, *codec, str(path)], check=True)
    return path


@dataclass
class LoadReport:
    """What a load run measured."""

    submitted: int = 0
    refused: int = 0
    submit_seconds: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    completions: Counter[str] = field(default_factory=Counter)
    wrong_results: int = 0
    killed_at_submission: int = 0

    @property
    def lost(self) -> int:
        """Submitted jobs that have no row."""
        return self.submitted - sum(self.statuses.values())

    @property
    def stuck(self) -> int:
        return self.statuses["pending"] + self.statuses["running"]

    @property
    def completed_twice(self) -> int:
        return sum(1 for n in self.completions.values() if n > 1)

    @property
    def rerun(self) -> int:
        """Jobs that started more than once (the killed worker's job is expected here)."""
        return sum(1 for n in self.runs.values() if n > 1)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.submit_seconds)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        jobs_per_s = self.statuses["completed"] / self.elapsed if self.elapsed else 0.0
        return (
            f"{self.submitted} submitted ({self.refused} refused), "
            f"{self.statuses['completed']} completed, {self.statuses['failed']} failed; "
            f"lost {self.lost}, stuck {self.stuck}, completed twice {self.completed_twice}, "
            f"started again after the kill {self.rerun}, wrong results {self.wrong_results}; "
            f"submit p50 {self.percentile_ms(0.5):.0f} ms, p99 {self.percentile_ms(0.99):.0f} ms, "
            f"mean {1000 * statistics.fmean(self.submit_seconds):.0f} ms; "
            f"{jobs_per_s:.2f} jobs/s over {self.elapsed:.1f} s"
        )


def _submit(base_url: str, body: bytes, content_type: str) -> tuple[float, str | None]:
    request = urllib.request.Request(
        f"{base_url}/video/submit", data=body, headers={"Content-Type": content_type}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            job_id = json.loads(response.read())["job_id"]
    except Exception:
        return time.perf_counter() - started, None
    return time.perf_counter() - started, job_id


def _wait_up(base_url: str, stack: Stack, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/video/pipelines", timeout=2):
                return
        except Exception:
            assert time.monotonic() < deadline, f"gunicorn did not start:\n{stack.logs()[-3000:]}"
            time.sleep(0.2)


def run_load(
    stack: Stack, video: Path, expected: list[dict[str, Any]], submissions: int, clients: int,
    deadline: float = 600,
) -> LoadReport:  # fmt: skip
    """Submit ``submissions`` jobs from ``clients`` threads, kill a worker half-way, wait."""
    port = free_port()
    stack.env.update(PORT=str(port), WEB_CONCURRENCY="2")
    stack.start("web")
    base_url = f"http://127.0.0.1:{port}"
    stack.start("clock")
    doomed = stack.start("worker")
    stack.start("worker")
    _wait_up(base_url, stack)
    upload = FileStorage(video.open("rb"), filename="clip.mp4")
    boundary, body = encode_multipart({"file": upload, "pipeline_id": "frame_stats"})
    upload.close()
    content_type = f"multipart/form-data; boundary={boundary}"
    report, job_ids, lock = LoadReport(), [], threading.Lock()
    counter = iter(range(submissions))
    half = threading.Event()

    def client() -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            took, job_id = _submit(base_url, body, content_type)
            with lock:
                report.submit_seconds.append(took)
                if job_id is None:
                    report.refused += 1
                else:
                    job_ids.append(job_id)
                if len(report.submit_seconds) >= submissions // 2:
                    half.set()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    half.wait()
    report.killed_at_submission = len(report.submit_seconds)
    signal_all(process_tree(doomed.pid), signal.SIGKILL)  # worker, work horse and ffmpeg
    stack.start("worker")
    for thread in threads:
        thread.join()
    report.submitted = len(job_ids)
    engine = sa.create_engine(stack.app.config["SQLALCHEMY_DATABASE_URI"])
    ids = [uuid.UUID(j) for j in job_ids]
    query = sa.text("SELECT status, count(*) FROM jobs WHERE job_id = ANY(:ids) GROUP BY status")
    try:
        while True:
            with engine.connect() as conn:
                report.statuses = Counter(dict(conn.execute(query, {"ids": ids}).all()))
            if report.stuck == 0 or time.monotonic() - started > deadline:
                break
            time.sleep(0.2)
    finally:
        engine.dispose()
    report.elapsed = time.monotonic() - started
    logs = stack.logs()
    report.runs = Counter(re.findall(r"job ([0-9a-f-]{36}): running pipeline", logs))
    report.completions = Counter(re.findall(r"job ([0-9a-f-]{36}): completed with", logs))
    storage = Path(stack.app.config["STORAGE_URL"])
    for job_id in job_ids:
        stored = storage / f"{job_id}_results.json"
        if not stored.exists() or json.loads(stored.read_text())["results"] != expected:
            report.wrong_results += 1
    return report

"""HTTP figures under gunicorn (the Procfile's web line) with PostgreSQL and Redis.

    python bench/bench_http.py            # prints a table; median of 3 runs each

- ``GET /video/status`` requests/s (200, and 304 with If-None-Match) as a ratio of
  ``GET /healthz`` requests/s, the floor of the same server that touches no database;
- ``GET /video/results`` of 100,000 frames, plain and gzip: seconds per request, as a
  ratio of the 0.15 s target.

Each client process holds one keep-alive connection. ``measure()`` returns the figures as a
dict so that a harness can call it; nothing here gates CI.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS, SECONDS, RUNS = 4, 3.0, 3


def _hammer(args: tuple[int, str, dict[str, str], float]) -> int:
    port, path, headers, seconds = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 304), response.status
        done += 1
    conn.close()
    return done


def requests_per_second(
    port: int, path: str, headers: dict[str, str] | None = None, runs: int = RUNS
) -> float:
    """Median over ``runs`` of CLIENTS keep-alive clients hammering ``path`` for SECONDS."""
    rates = []
    with multiprocessing.Pool(CLIENTS) as pool:
        for _ in range(runs):
            counts = pool.map(_hammer, [(port, path, headers or {}, SECONDS)] * CLIENTS)
            rates.append(sum(counts) / SECONDS)
    return statistics.median(rates)


def seconds_per_get(port: int, path: str, headers: dict[str, str]) -> float:
    """Median over 5 of one full GET read to the end."""
    times = []
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        while response.read(1 << 20):
            pass
        times.append(time.perf_counter() - started)
        conn.close()
    return statistics.median(times)


def _prepare(database_url: str, storage: Path) -> tuple[str, str]:
    """Migrate, then one completed job with 100,000 synthetic frames and one pending job."""
    from alembic import command

    from tests.conftest import alembic_config
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Job, JobStatus
    from webapp.results import write_results

    command.upgrade(alembic_config(database_url), "head")
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "STORAGE_URL": str(storage), "REDIS_URL": None}
    )
    done, pending = uuid.uuid4(), uuid.uuid4()
    frames = (
        {"frame_index": i, "result": {"timestamp_ms": i * 33.333, "brightness": 0.5 + i % 7 / 100}}
        for i in range(100_000)
    )
    with app.app_context():
        key = write_results(app.extensions["video_storage"], done, frames)
        for job_id, status, output in ((done, "completed", key), (pending, "pending", None)):
            db.session.add(
                Job(
                    job_id=job_id,
                    status=JobStatus(status).value,
                    input_path=f"{job_id}.mp4",
                    output_path=output,
                    pipeline_id="frame_stats",
                )
            )
        db.session.commit()
        db.engine.dispose()
    return str(done), str(pending)


def measure(workdir: Path, runs: int = RUNS) -> dict[str, Any]:
    """Start the Procfile's web line on PostgreSQL + Redis and take every figure."""
    from tests.conftest import scratch_database
    from tests.faults import free_port
    from tests.test_web_tier import procfile_line

    with scratch_database("bench_http") as database_url:
        done, pending = _prepare(database_url, workdir / "storage")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "QUEUE_NAME": f"bench_{uuid.uuid4().hex[:8]}",
            "STORAGE_URL": str(workdir / "storage"),
            "PORT": str(port),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "GUNICORN_CMD_ARGS": "--access-logfile /dev/null",
        }
        server = subprocess.Popen(
            ["bash", "-c", "exec " + procfile_line("web")],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request(
                        "GET", "/healthz"
                    )
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("GET", f"/video/status/{done}")
            etag = conn.getresponse().getheader("ETag")
            floor = requests_per_second(port, "/healthz", runs=runs)
            status = requests_per_second(port, f"/video/status/{done}", runs=runs)
            pending_rate = requests_per_second(port, f"/video/status/{pending}", runs=runs)
            cached = requests_per_second(
                port, f"/video/status/{done}", {"If-None-Match": etag}, runs=runs
            )
            plain = seconds_per_get(port, f"/video/results/{done}", {})
            packed = seconds_per_get(port, f"/video/results/{done}", {"Accept-Encoding": "gzip"})
        finally:
            server.terminate()
            server.wait(timeout=15)
    return {
        "healthz_rps": floor,
        "status_rps": status,
        "status_pending_rps": pending_rate,
        "status_304_rps": cached,
        "results_100k_plain_s": plain,
        "results_100k_gzip_s": packed,
    }


def table(figures: dict[str, Any]) -> str:
    """One table: every figure and its ratio to its limit from the same run."""
    floor = figures["healthz_rps"]
    rows = [
        ("GET /healthz (floor, no database)", f"{floor:.0f} req/s", "1.00x"),
        (
            "GET /video/status completed",
            f"{figures['status_rps']:.0f} req/s",
            f"{figures['status_rps'] / floor:.2f}x of floor",
        ),
        (
            "GET /video/status pending",
            f"{figures['status_pending_rps']:.0f} req/s",
            f"{figures['status_pending_rps'] / floor:.2f}x of floor",
        ),
        (
            "GET /video/status 304",
            f"{figures['status_304_rps']:.0f} req/s",
            f"{figures['status_304_rps'] / floor:.2f}x of floor",
        ),
        (
            "GET /video/results 100k frames, plain",
            f"{figures['results_100k_plain_s']:.3f} s",
            f"{figures['results_100k_plain_s'] / 0.15:.2f}x of 0.15 s",
        ),
        (
            "GET /video/results 100k frames, gzip",
            f"{figures['results_100k_gzip_s']:.3f} s",
            f"{figures['results_100k_gzip_s'] / 0.15:.2f}x of 0.15 s",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:>12}  {ratio}" for name, value, ratio in rows)


def http_figures(bench: Any) -> list[Any]:
    """bench/run.py's entry: the figures above as Rows held to their limits."""
    from harness import Row

    figures = measure(bench.workdir / "http", bench.runs)
    floor = figures["healthz_rps"]
    rows = [
        Row(
            f"GET /video/results, 100k frames, {kind}",
            figures[f"results_100k_{kind}_s"],
            0.15,
            at_least=False,
            unit="s",
        )
        for kind in ("plain", "gzip")
    ]
    for name, key in (("completed", "status_rps"), ("304", "status_304_rps")):
        rows.append(
            Row(
                f"GET /video/status ({name}) req/s vs GET /healthz",
                figures[key] / floor,
                0.25,
                at_least=True,
                detail=f"{figures[key]:.0f} vs {floor:.0f} req/s, gunicorn + PostgreSQL",
            )
        )
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        print(table(measure(Path(tmp))))

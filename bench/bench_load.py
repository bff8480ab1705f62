"""Load with a fault: submissions from concurrent clients while a worker is SIGKILLed.

    .venv/bin/python bench/bench_load.py [--submissions 200] [--clients 16] [--seconds 2]

Runs the Procfile's processes against the local PostgreSQL (a scratch database, dropped
afterwards) and Redis (a queue of its own): gunicorn with 2 processes, 2 stock `rq worker`
processes and the `clock`. The clients submit the same camera-like clip (testsrc2 with
temporal noise, crf 23); when half of the submissions are in, the first worker is
SIGKILLed with its work horse and ffmpeg, and a new worker is started. Heartbeat and
recovery intervals are lowered (HEARTBEAT_STALE_SECONDS=5) so that the killed job is
recovered within seconds. Prints: lost, stuck, completed twice (each must be 0), submit
latency p50/p99 and jobs/s. Timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.service import VideoFilePipelineService
from tests.conftest import TEST_REDIS_URL
from tests.faults import stacks
from tests.load import make_camera_like, run_load


def main() -> int:
    """Run the load, print the report; exit 1 if anything was lost, stuck or run twice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2, help="length of the clip")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL") or TEST_REDIS_URL
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        video = make_camera_like(root / "camera.mp4", args.seconds, args.width, args.height)
        expected = VideoFilePipelineService().run_on_file(video, "frame_stats", 1, None)
        settings = {"HEARTBEAT_STALE_SECONDS": "5", "RECOVERY_INTERVAL_SECONDS": "2"}
        with stacks(redis_url, root, **settings) as (stack,):
            report = run_load(stack, video, expected, args.submissions, args.clients)
    print(
        f"{args.submissions} submissions of a {args.seconds:g} s {args.width}x{args.height} "
        f"clip from {args.clients} clients; gunicorn 2 processes, 2 rq workers, worker 1 "
        f"SIGKILLed after submission {report.killed_at_submission} and restarted"
    )
    print(report.summary())
    bad = report.lost or report.stuck or report.completed_twice or report.wrong_results
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

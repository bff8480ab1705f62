"""How close the service's frame path is to ffmpeg's own decode speed, measured side by side.

    .venv/bin/python bench/bench_decode.py [--seconds 10] [--width 1280 --height 720]

Prints frames per second for each stage and ratios against ffmpeg alone, all measured in
this one run on this machine. Absolute numbers vary between machines; read the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.frames import VideoFrameReader
from pipelines.service import VideoFilePipelineService
from tests.videos import FFMPEG, make_testsrc


def _best_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """Fastest wall time of several runs, and the frame count the work reported."""
    best, frames = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        frames = work()
        best = min(best, time.perf_counter() - start)
    return best, frames


def main() -> int:
    """Generate a test video, time each stage, print fps and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_testsrc(Path(tmp) / "bench.mp4", args.seconds, args.width, args.height)
        n_frames = int(args.seconds * 30)

        def ffmpeg(*out: str) -> Callable[[], int]:
            cmd = [FFMPEG, "-v", "error", "-i", str(video), *out]
            return lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL) and n_frames

        def reader_only() -> int:
            with VideoFrameReader(video) as reader:
                return sum(1 for _ in reader.frames())

        service = VideoFilePipelineService()
        stages = {
            "ffmpeg decode only (-f null)": ffmpeg("-f", "null", "-"),
            "ffmpeg decode to rgb24 pipe": ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-"),
            "VideoFrameReader, all frames": reader_only,
            "run_on_file frame_stats": lambda: len(service.run_on_file(video, "frame_stats")),
            "run_on_file frame_stats, stride 5": lambda: (
                len(service.run_on_file(video, "frame_stats", frame_stride=5)) * 5
            ),
        }
        print(f"video: {args.width}x{args.height}, {n_frames} frames, best of {args.runs} runs")
        baseline = None
        for name, work in stages.items():
            seconds, frames = _best_of(args.runs, work)
            fps = frames / seconds
            baseline = baseline or fps
            print(f"{name:38s} {fps:9.1f} frames/s   {fps / baseline:6.3f} x ffmpeg decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())

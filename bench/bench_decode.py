"""The default pipeline against ffmpeg's own decode speed, at 720p and 1080p.

Each run times, back to back on the same camera-like video: ffmpeg decoding alone
(`-f null`), `frame_stats` at stride 1 and `frame_stats` at stride 5 (counted in source
frames); a pipeline without a frame size (full frames) against ffmpeg's own full-size
rgb24 pipe. Each figure is the median over runs of the ratio within one run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import Bench, Row, median, timed

from pipelines.frames import VideoFrameReader
from pipelines.service import VideoFilePipelineService
from tests.videos import FFMPEG, make_camera_like

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def _ffmpeg(video: Path, *output: str) -> None:
    cmd = [FFMPEG, "-v", "error", "-i", str(video), *output]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _full_frames(video: Path) -> None:
    with VideoFrameReader(video) as reader:
        for _ in reader.frames():
            pass


def decode_speed(bench: Bench) -> list[Row]:
    """frame_stats at stride 1 and 5 (and full-size frames) as a fraction of ffmpeg's speed."""
    seconds = 4 if bench.quick else 10
    service = VideoFilePipelineService()
    rows: list[Row] = []
    for label, (width, height) in SIZES.items():
        video = bench.video(
            f"camera_{label}", lambda p, w=width, h=height: make_camera_like(p, seconds, w, h)
        )
        stride1, stride5, full = [], [], []
        for _ in range(bench.runs):
            alone = timed(lambda v=video: _ffmpeg(v, "-f", "null", "-"))
            stride1.append(alone / timed(lambda v=video: service.run_on_file(v, "frame_stats")))
            stride5.append(alone / timed(lambda v=video: service.run_on_file(v, "frame_stats", 5)))
            if label == "720p":
                piped = timed(
                    lambda v=video: _ffmpeg(v, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
                )
                full.append(piped / timed(lambda v=video: _full_frames(v)))
        detail = f"{width}x{height}, {seconds} s camera-like"
        rows.append(
            Row(
                f"frame_stats stride 1 / ffmpeg decode, {label}",
                median(stride1),
                0.9,
                True,
                detail=detail,
            )
        )
        rows.append(
            Row(
                f"frame_stats stride 5 / ffmpeg decode, {label}",
                median(stride5),
                0.95,
                True,
                detail=detail,
            )
        )
        if full:
            rows.append(
                Row(
                    f"full-size frames / ffmpeg full-size rgb24 pipe, {label}",
                    median(full),
                    0.9,
                    True,
                    detail=detail,
                )
            )
    return rows

"""The shots pipeline beside PySceneDetect and ffmpeg's decode-only speed, on one 720p file.

    .venv/bin/python bench/bench_shots.py [--runs 3] [--width 1280 --height 720]

The file is camera-like (ffmpeg's testsrc2 under temporal noise, libx264 crf 23) and holds
four shots with hard cuts at frames 120, 210 and 300. Every contender runs on it once per
round, rounds interleaved so that the machine's load falls on all alike; each figure is the
median of the rounds, and the ratios are of those medians, all from this one run. Read the
ratios, not the absolute frame rates. `measure()` returns the same figures as a dict.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.service import VideoFilePipelineService
from tests.videos import FFMPEG

CUTS = (120, 210, 300)
FRAMES = 400
#: Each shot: testsrc2 turned into different content (hue, mirror, negative, zoom).
LOOKS = ("null", "hue=h=150:s=1.6,hflip", "negate,vflip", "crop=iw/2:ih/2,hue=h=-100:s=0.5")


def make_video(path: Path, width: int, height: int) -> Path:
    """Four joined testsrc2 shots under temporal noise, encoded like a camera (crf 23)."""
    bounds = (0, *CUTS, FRAMES)
    inputs, labels = [], []
    for i, look in enumerate(LOOKS):
        seconds = (bounds[i + 1] - bounds[i]) / 30
        source = f"testsrc2=size={width}x{height}:rate=30:duration={seconds}"
        inputs += ["-f", "lavfi", "-i", source]
        labels.append(f"[{i}]{look},scale={width}:{height},setsar=1[s{i}]")
    joined = "".join(f"[s{i}]" for i in range(len(LOOKS)))
    graph = ";".join(labels) + f";{joined}concat=n={len(LOOKS)}:v=1,noise=alls=8:allf=t[v]"
    codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    cmd = [FFMPEG, "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]"]
    subprocess.run([*cmd, *codec, str(path)], check=True)
    return path


def _decode_only(video: Path) -> Callable[[], list[int]]:
    cmd = [FFMPEG, "-v", "error", "-threads", "0", "-i", str(video), "-f", "null", "-"]
    return lambda: subprocess.run(cmd, check=True) and []


def _ours(video: Path, stride: int = 1) -> Callable[[], list[int]]:
    service = VideoFilePipelineService()

    def work() -> list[int]:
        results = service.iter_on_file(video, "shots", frame_stride=stride)
        return [r["frame_index"] for r in results if r["result"]["is_shot_start"]][1:]

    return work


def _pyscenedetect(video: Path) -> Callable[[], list[int]]:
    from scenedetect import ContentDetector, detect

    def work() -> list[int]:
        scenes = detect(str(video), ContentDetector())
        return [start.frame_num for start, _ in scenes][1:]

    return work


def measure(video: Path, runs: int = 3) -> dict[str, Any]:
    """Median frames/s of each contender over interleaved rounds, the cuts each found, ratios."""
    contenders = {
        "ffmpeg decode only": _decode_only(video),
        "shots pipeline": _ours(video),
        "shots pipeline, stride 2": _ours(video, 2),
        "PySceneDetect ContentDetector": _pyscenedetect(video),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cuts: dict[str, list[int]] = {}
    for _ in range(runs):
        for name, work in contenders.items():
            start = time.perf_counter()
            cuts[name] = work()
            times[name].append(time.perf_counter() - start)
    fps = {name: FRAMES / statistics.median(seconds) for name, seconds in times.items()}
    decode = fps["ffmpeg decode only"]
    theirs = fps["PySceneDetect ContentDetector"]
    return {
        "frames": FRAMES,
        "runs": runs,
        "fps": fps,
        "x_decode_only": {name: value / decode for name, value in fps.items()},
        "x_pyscenedetect": {name: value / theirs for name, value in fps.items()},
        "cuts": {name: found for name, found in cuts.items() if name != "ffmpeg decode only"},
    }


def main() -> int:
    """Make the clip, measure, print a table of frame rates and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "shots_720p.mp4", args.width, args.height)
        found = measure(video, args.runs)
    print(f"video: {args.width}x{args.height}, {FRAMES} frames, cuts at {list(CUTS)}, ", end="")
    print(f"median of {args.runs} interleaved runs")
    for name, fps in found["fps"].items():
        ratio, beside = found["x_decode_only"][name], found["x_pyscenedetect"][name]
        cuts = found["cuts"].get(name, "")
        print(f"{name:31s} {fps:8.1f} frames/s {ratio:6.2f} x decode-only", end="")
        print(f" {beside:6.2f} x PySceneDetect  {cuts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

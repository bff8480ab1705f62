"""The shots pipeline beside PySceneDetect and ffmpeg's decode-only speed, on one 720p file.

The file is camera-like (testsrc2 under temporal noise, crf 23, as `make_camera_like`) and
holds four shots with hard cuts at frames 120, 210 and 300. Each run times, back to back:
ffmpeg decoding alone (`-f null`), the `shots` pipeline at stride 1, and PySceneDetect's
`ContentDetector` with its defaults (OpenCV decoding). Each speed figure is the median over
runs of the ratio within one run; the cuts each found are checked against the known ones.

    .venv/bin/python bench/run.py --only shots
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import Bench, Row, median, timed

from pipelines.service import VideoFilePipelineService
from tests.videos import FFMPEG

CUTS = [120, 210, 300]
FRAMES = 400
#: Each shot: testsrc2 turned into different content (hue, mirror, negative, zoom).
LOOKS = ("null", "hue=h=150:s=1.6,hflip", "negate,vflip", "crop=iw/2:ih/2,hue=h=-100:s=0.5")


def make_shots_video(path: Path, width: int, height: int) -> Path:
    """Four joined testsrc2 shots under temporal noise, encoded like a camera (crf 23)."""
    bounds = (0, *CUTS, FRAMES)
    inputs, chains = [], []
    for i, look in enumerate(LOOKS):
        seconds = (bounds[i + 1] - bounds[i]) / 30
        inputs += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30:d={seconds}"]
        chains.append(f"[{i}]{look},scale={width}:{height},setsar=1[s{i}]")
    joined = "".join(f"[s{i}]" for i in range(len(LOOKS)))
    graph = ";".join(chains) + f";{joined}concat=n={len(LOOKS)}:v=1,noise=alls=12:allf=t+u[v]"
    codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    cmd = [FFMPEG, "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]"]
    subprocess.run([*cmd, *codec, "-movflags", "+faststart", str(path)], check=True)
    return path


def _decode_only(video: Path) -> None:
    cmd = [FFMPEG, "-v", "error", "-i", str(video), "-f", "null", "-"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _ours(service: VideoFilePipelineService, video: Path) -> list[int]:
    results = service.iter_on_file(video, "shots")
    return [r["frame_index"] for r in results if r["result"]["is_shot_start"]][1:]


def _pyscenedetect(video: Path) -> list[int]:
    from scenedetect import ContentDetector, detect

    return [start.frame_num for start, _ in detect(str(video), ContentDetector())][1:]


def shots_speed(bench: Bench) -> list[Row]:
    """shots against ffmpeg decoding alone and against PySceneDetect, and the cuts found."""
    width, height = (640, 360) if bench.quick else (1280, 720)
    label = f"{height}p"
    video = bench.video(f"shots_{label}", lambda p: make_shots_video(p, width, height))
    service = VideoFilePipelineService()
    found: dict[str, list[int]] = {}
    vs_decode, vs_theirs, theirs_vs_decode = [], [], []
    for _ in range(bench.runs):
        alone = timed(lambda: _decode_only(video))
        ours = timed(lambda: found.__setitem__("shots", _ours(service, video)))
        theirs = timed(lambda: found.__setitem__("PySceneDetect", _pyscenedetect(video)))
        vs_decode.append(alone / ours)
        vs_theirs.append(theirs / ours)
        theirs_vs_decode.append(alone / theirs)
    detail = f"{width}x{height}, {FRAMES} frames camera-like"
    wrong = {name: len(set(cuts) ^ set(CUTS)) for name, cuts in found.items()}
    return [
        Row(f"shots stride 1 / ffmpeg decode, {label}", median(vs_decode), 0.9, True, "x", detail),
        Row(
            f"shots stride 1 / PySceneDetect, {label}",
            median(vs_theirs),
            1.5,
            True,
            "x",
            f"PySceneDetect itself at {median(theirs_vs_decode):.2f} x ffmpeg decode",
        ),
        Row(
            f"cuts missed or extra vs {CUTS}, shots",
            wrong["shots"],
            0,
            False,
            "cuts",
            f"found {found['shots']}; PySceneDetect found {found['PySceneDetect']}",
        ),
    ]

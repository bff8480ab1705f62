"""What the ocr and codes pipelines cost and how often they read right, measured in one run.

    .venv/bin/python bench/bench_ocr_codes.py [--seconds 4] [--runs 3]

1. Accuracy: plate-like strings and sentences rendered on plain and busy backgrounds at 360p
   and 720p, encoded as H.264 (crf 23); counts exact reads. QR and EAN-13 codes likewise.
2. Per-frame cost on a camera-like 720p clip (those scenes under temporal noise, crf 23):
   the median of --runs runs, wall and CPU, beside the decode alone (frame_stats) as a ratio.
3. First-job cost: loading the models in a fresh process (what warm_up() moves into the
   worker's parent), and the first frame of a forked child with and without that warm-up.
Absolute numbers depend on the machine and its load; read the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.service import VideoFilePipelineService
from tests import scene_videos as sv
from tests.videos import FFMPEG

PLATES = ["KX-4821-B", "B 774 QRT", "MH12 AB 3456"]
SENTENCES = ["Deliveries arrive before noon", "Keep left at the roundabout", "Exit 14 Harbour Road"]


def _text_video(path: Path, width: int, height: int) -> tuple[Path, list[list[str]]]:
    """One scene per (plate, sentence, background); returns each scene's expected strings."""
    sv.WIDTH, sv.HEIGHT = 1280, 720  # scenes are drawn at 720p, then scaled by ffmpeg
    scenes, expected = [], []
    for i, (plate, sentence) in enumerate(zip(PLATES, SENTENCES, strict=True)):
        for busy in (False, True):
            sv.PLATE, sv.SENTENCE = plate, sentence
            scenes.append(sv.text_scene(busy=busy, seed=i))
            expected.append([plate, sentence])
    sv.write_scenes(path, scenes)
    if (width, height) != (1280, 720):
        scaled = path.with_name(f"{path.stem}_{height}p.mp4")
        vf = ["-vf", f"scale={width}:{height}", "-c:v", "libx264", "-crf", "23"]
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-i", str(path), *vf]
        subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(scaled)], check=True)
        path = scaled
    return path, expected


def accuracy(service: VideoFilePipelineService, workdir: Path) -> None:
    """Exact reads of every rendered string and code."""
    for width, height in ((640, 360), (1280, 720)):
        video, expected = _text_video(workdir / "text.mp4", width, height)
        results = service.run_on_file(video, "ocr", frame_stride=sv.FRAMES_PER_SCENE)
        hits = total = 0
        for result, wanted in zip(results, expected, strict=True):
            read = [t["text"] for t in result["result"]["texts"]]
            hits += sum(w in read for w in wanted)
            total += len(wanted)
            misses = [w for w in wanted if w not in read]
            if misses:
                print(f"  {height}p frame {result['frame_index']}: missed {misses}, read {read}")
        print(f"ocr {height}p: {hits}/{total} strings read exactly")
    scenes = [sv.codes_scene(True, False), sv.codes_scene(False, True), sv.codes_scene(True, True)]
    scenes.append(sv.codes_scene(True, True, busy=True))
    video = sv.write_scenes(workdir / "codes.mp4", scenes)
    results = service.run_on_file(video, "codes", frame_stride=sv.FRAMES_PER_SCENE)
    hits = sum(
        sorted(c["text"] for c in r["result"]["codes"]) == sorted(s.drawn)
        for r, s in zip(results, scenes, strict=True)
    )
    print(f"codes 720p: {hits}/{len(scenes)} frames with exactly the drawn codes")


def _camera_clip(path: Path, seconds: float) -> Path:
    """The text scenes at 720p, 30 fps, under temporal noise, crf 23: camera-like."""
    sv.PLATE, sv.SENTENCE = PLATES[0], SENTENCES[0]
    still = path.with_name("still.png")
    sv.text_scene(busy=True).image.save(still)
    noise = "noise=alls=12:allf=t+u"
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-loop", "1", "-i", str(still)]
    cmd += ["-t", str(seconds), "-r", "30", "-vf", noise, "-c:v", "libx264", "-crf", "23"]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (ffmpeg, the decoder)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def per_frame(service: VideoFilePipelineService, video: Path, runs: int, stride: int) -> None:
    """Median wall and CPU ms per kept frame for each pipeline, and the ratio to decode."""
    base, kept_ms = None, {}
    for pipeline_id in ("frame_stats", "codes", "ocr"):
        walls, cpus, frames = [], [], 0
        for _ in range(runs):
            wall, cpu = time.perf_counter(), _cpu_seconds()
            frames = len(service.run_on_file(video, pipeline_id, frame_stride=stride))
            walls.append((time.perf_counter() - wall) / frames * 1000)
            cpus.append((_cpu_seconds() - cpu) / frames * 1000)
        wall_ms, cpu_ms = statistics.median(walls), statistics.median(cpus)
        base, kept_ms[pipeline_id] = base or cpu_ms, cpu_ms
        print(
            f"{pipeline_id:12s} {frames:4d} frames  {wall_ms:8.1f} ms/frame wall  "
            f"{cpu_ms:8.1f} ms/frame CPU  x{cpu_ms / base:6.1f} the decode's CPU"
        )
    decode_ms = kept_ms["frame_stats"] / stride  # every frame is decoded, 1 in stride kept
    print("one minute of 720p at 30 fps (1800 frames), from the CPU figures above:")
    for pipeline_id in ("codes", "ocr"):
        analysis_ms = kept_ms[pipeline_id] - kept_ms["frame_stats"]
        costs = [(1800 * decode_ms + 1800 / s * analysis_ms) / 1000 for s in (1, 10, 30)]
        print(f"  {pipeline_id:6s} stride 1 / 10 / 30: " + " / ".join(f"{c:.0f} s" for c in costs))


_CHILD = """
import os, sys, time
sys.path.insert(0, {repo!r})
t = time.process_time()
from pipelines import registry
from pipelines.engine import load_pipelines
import numpy as np
from PIL import Image
frame = np.asarray(Image.open({still!r}).convert("RGB"))
pipeline = load_pipelines()["ocr"]
if {warm}:
    registry.warm_up()
loaded = time.process_time() - t
r, w = os.pipe()
if os.fork() == 0:
    times = []
    for _ in range(3):
        s = time.process_time(); pipeline.run(frame); times.append(time.process_time() - s)
    os.write(w, (" ".join(f"{{x:.3f}}" for x in times)).encode()); os._exit(0)
os.wait()
print(f"{{loaded:.3f}}", os.read(r, 200).decode())
"""


def first_job(workdir: Path, runs: int) -> None:
    """Fresh-process load time, and a forked child's first three frames with/without warm-up."""
    repo = str(Path(__file__).resolve().parent.parent)
    still = str(workdir / "still.png")
    for warm in (True, False):
        rows = []
        for _ in range(runs):
            code = _CHILD.format(repo=repo, still=still, warm=warm)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            rows.append([float(x) for x in out.stdout.split()])
        median = np.median(np.array(rows), axis=0)
        label = "warm_up() in the parent" if warm else "no warm-up (lazy load)"
        print(
            f"{label:24s}: parent set-up {median[0]:.2f} s CPU; child frames 1-3 (CPU): "
            + ", ".join(f"{x:.2f} s" for x in median[1:])
        )


def main() -> int:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stride", type=int, default=10)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    service = VideoFilePipelineService()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        accuracy(service, workdir)
        video = _camera_clip(workdir / "camera_720p.mp4", args.seconds)
        print(f"per kept frame, 720p camera-like clip, stride {args.stride}:")
        per_frame(service, video, args.runs, args.stride)
        first_job(workdir, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

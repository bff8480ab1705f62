"""Peak memory of a whole job (Python and its ffmpeg child): a 10-minute 720p video vs 1 minute.

Each run is a fresh Python process that streams `iter_on_file(video, "frame_stats")` into
JSON written to /dev/null, as a worker streams results to storage, and reports its own
peak RSS plus its ffmpeg child's (getrusage). The 10-minute video is the 1-minute one
repeated ten times (stream copy), so only the length differs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import Bench, Row, median

from tests.videos import FFMPEG, make_camera_like

_JOB = """
import json, resource, sys
sys.path.insert(0, sys.argv[2])
from pipelines.service import VideoFilePipelineService
frames = 0
with open("/dev/null", "w") as sink:
    for result in VideoFilePipelineService().iter_on_file(sys.argv[1], "frame_stats"):
        sink.write(json.dumps(result))
        frames += 1
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"frames": frames, "peak_kib": own + child}))
"""


def _repeat(source: Path, times: int, target: Path) -> Path:
    listing = target.with_suffix(".txt")
    listing.write_text("".join(f"file '{source}'\n" for _ in range(times)))
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    subprocess.run([*cmd, "-c", "copy", "-movflags", "+faststart", str(target)], check=True)
    return target


def _peak_kib(video: Path) -> int:
    root = str(Path(__file__).absolute().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", _JOB, str(video), root], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)["peak_kib"]


def flat_memory(bench: Bench) -> list[Row]:
    """Peak memory of the long video's job as a multiple of the short one's."""
    minute = 12 if bench.quick else 60
    short = bench.video(
        "camera_720p_1min", lambda p: make_camera_like(p, minute, 1280, 720, preset="ultrafast")
    )
    long = bench.video("camera_720p_10min", lambda p: _repeat(short, 10, p))
    ratios, shorts, longs = [], [], []
    for _ in range(bench.runs):
        shorts.append(_peak_kib(short))
        longs.append(_peak_kib(long))
        ratios.append(longs[-1] / shorts[-1])
    detail = f"{median(shorts) / 1024:.0f} MiB vs {median(longs) / 1024:.0f} MiB"
    figure = f"peak memory, {10 * minute} s / {minute} s of 720p"
    return [Row(figure, median(ratios), 1.10, False, detail=detail)]

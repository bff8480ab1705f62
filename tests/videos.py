"""Test videos made on the spot with the ffmpeg that the imageio-ffmpeg wheel ships."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
_QUIET = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]


def level_frames(n_frames: int, width: int = 64, height: int = 48) -> np.ndarray:
    """Frames whose grey level rises with the index: frame i is 20 + 7*i (mod 216, plus 20)."""
    levels = (7 * np.arange(n_frames)) % 216 + 20
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    frames[:] = levels[:, None, None, None]
    return frames


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: int = 30,
    faststart: bool = True,
    extra: list[str] | None = None,
) -> Path:
    """Encode RGB frames as H.264 MP4, lossless in luma so that grey levels survive."""
    height, width = frames.shape[1:3]
    source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps)]
    codec = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"]
    flags = ["-movflags", "+faststart"] if faststart else []
    cmd = [*_QUIET, *source, "-i", "-", *(extra or []), *codec, *flags, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def make_video(
    path: Path, n_frames: int = 30, width: int = 64, height: int = 48, fps: int = 30
) -> Path:
    """A small MP4 whose frame i has a known, rising grey level."""
    return write_video(path, level_frames(n_frames, width, height), fps=fps)


def make_testsrc(path: Path, seconds: float, width: int, height: int, fps: int = 30) -> Path:
    """ffmpeg's moving test pattern, for benchmarks and realistic smoke runs."""
    source = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    codec = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run([*_QUIET, *source, "-t", str(seconds), *codec, str(path)], check=True)
    return path


def make_camera_like(
    path: Path, seconds: float, width: int, height: int, fps: int = 30, preset: str = "veryfast"
) -> Path:
    """Moving test pattern with temporal noise at crf 23: decodes about as slowly as footage.

    Flat test patterns compress to almost nothing and decode several times faster than
    camera video, which hides the decoder's real cost; grain that changes every frame does not.
    """
    source = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    grain = ["-vf", "noise=alls=12:allf=t+u"]
    codec = ["-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p"]
    cmd = [*_QUIET, *source, "-t", str(seconds), *grain, *codec, "-movflags", "+faststart"]
    subprocess.run([*cmd, str(path)], check=True)
    return path

"""Camera-like test videos with shot boundaries at known frames, made with numpy and ffmpeg.

Each shot is a different smooth colour scene with fine texture, seen through a camera that
pans a few pixels a frame, with sensor noise that changes every frame; encoded lossy
(libx264, crf 23) as a camera would. The default layout holds every case the shots
pipeline must get right: a slow pan, hard cuts, black frames between shots and a
one-second cross-fade (no cut).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.videos import FFMPEG

_QUIET = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]


@dataclass(frozen=True)
class Segment:
    """``frames`` frames of scene ``scene`` (None: black), panning ``pan`` pixels a frame.

    ``fade_from`` blends in from the previous segment's scene over the segment (a dissolve).
    """

    frames: int
    scene: int | None
    pan: tuple[int, int] = (0, 0)
    fade_from: bool = False


#: Scene 1 pans slowly; cut to 2; black; cut to 3; one-second dissolve into 4; cut to 5.
LAYOUT = (
    Segment(60, 1, pan=(0, 1)),
    Segment(60, 2, pan=(1, 0)),
    Segment(20, None),
    Segment(60, 3, pan=(1, 1)),
    Segment(30, 4, pan=(0, 2), fade_from=True),
    Segment(50, 4, pan=(0, 2)),
    Segment(60, 5, pan=(2, 0)),
)
#: Frames where a new shot starts in LAYOUT: frame 0, each hard cut, into and out of black.
SHOT_STARTS = (0, 60, 120, 140, 280)
#: Frames of LAYOUT that are black.
BLACK_FRAMES = range(120, 140)
PAD = 160  # how far a scene extends beyond the frame, for panning


def _upsample(small: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear enlargement of a (h, w, 3) array to (height, width, 3)."""
    ys = np.linspace(0, small.shape[0] - 1, height)
    xs = np.linspace(0, small.shape[1] - 1, width)
    y0, x0 = ys.astype(int), xs.astype(int)
    y1, x1 = np.minimum(y0 + 1, small.shape[0] - 1), np.minimum(x0 + 1, small.shape[1] - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    rows = small[y0] * (1 - wy) + small[y1] * wy
    return rows[:, x0] * (1 - wx) + rows[:, x1] * wx


def scene(seed: int, height: int, width: int) -> np.ndarray:
    """A colourful scene larger than the frame: broad colour areas, objects, fine texture."""
    rng = np.random.default_rng(seed)
    big_h, big_w = height + PAD, width + PAD
    base = _upsample(rng.uniform(20, 235, (5, 7, 3)), big_h, big_w)
    objects = _upsample(rng.normal(0, 35, (big_h // 16, big_w // 16, 3)), big_h, big_w)
    texture = rng.normal(0, 10, (big_h, big_w, 3))
    return np.clip(base + objects + texture, 0, 255).astype(np.float32)


def frames(layout: tuple[Segment, ...], width: int, height: int) -> Iterator[np.ndarray]:
    """The layout's frames in order, as uint8 RGB arrays."""
    noise = np.random.default_rng(0)
    scenes: dict[int, np.ndarray] = {}
    previous: tuple[np.ndarray, tuple[int, int], int] | None = None  # scene, pan, frames shown
    for segment in layout:
        if segment.scene is not None and segment.scene not in scenes:
            scenes[segment.scene] = scene(segment.scene, height, width)
        shown = previous[2] if previous and previous[0] is scenes.get(segment.scene) else 0
        for i in range(segment.frames):
            if segment.scene is None:
                yield np.zeros((height, width, 3), dtype=np.uint8)
                continue
            image = _view(scenes[segment.scene], segment.pan, shown + i, height, width)
            if segment.fade_from and previous is not None:
                alpha = (i + 1) / (segment.frames + 1)
                before = _view(previous[0], previous[1], previous[2] + i, height, width)
                image = before * (1 - alpha) + image * alpha
            image = image + noise.normal(0, 3, image.shape)
            yield np.clip(image, 0, 255).astype(np.uint8)
        if segment.scene is not None:
            previous = (scenes[segment.scene], segment.pan, shown + segment.frames)


def _view(big: np.ndarray, pan: tuple[int, int], step: int, height: int, width: int) -> np.ndarray:
    """The camera's window on a scene after ``step`` frames of panning (bouncing at edges)."""
    y, x = (_bounce(p * step, PAD) for p in pan)
    return big[y : y + height, x : x + width]


def _bounce(offset: int, limit: int) -> int:
    offset %= 2 * limit
    return offset if offset <= limit else 2 * limit - offset


def write_shot_video(
    path: Path, layout: tuple[Segment, ...] = LAYOUT, width: int = 320, height: int = 180
) -> Path:
    """Encode the layout as a 30 fps H.264 MP4 (crf 23, like a camera's lossy file)."""
    source = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "30"]
    codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    cmd = [*_QUIET, *source, "-i", "-", *codec, "-movflags", "+faststart", str(path)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for image in frames(layout, width, height):
            proc.stdin.write(image.tobytes())
        proc.stdin.close()
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed with exit code {proc.returncode}")
    return path

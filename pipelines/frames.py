"""Decoded frames of a video file, read through moviepy's ffmpeg reader, never invented.

moviepy's reader asks ffmpeg for a constant frame rate, which repeats frames of a
variable-frame-rate video, and it repeats the last frame when ffmpeg stops early. This
reader keeps moviepy's probing and process handling but asks ffmpeg for each decoded frame
exactly once (``-fps_mode passthrough``), drops skipped frames inside ffmpeg (``select``)
so that they are never converted or piped, and takes each frame's time from ffmpeg's own
``showinfo`` log instead of guessing it from the average frame rate.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from moviepy.config import FFMPEG_BINARY
from moviepy.tools import cross_platform_popen_params, ffmpeg_escape_filename
from moviepy.video.io.ffmpeg_reader import FFMPEG_VideoReader

from pipelines.errors import VideoDecodeError

_SHOWINFO = re.compile(r"\] n:\s*\d+ pts:\s*\S+ pts_time:(\S+)")
#: How long to wait for a frame's time once its pixels have arrived.
_PTS_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the decoded stream, its time and its RGB pixels."""

    index: int
    timestamp_ms: float
    pixels: np.ndarray


class _PassthroughReader(FFMPEG_VideoReader):
    """moviepy's reader, with an ffmpeg command that neither repeats nor converts extra frames."""

    def __init__(self, filename: str, frame_stride: int) -> None:
        self.frame_stride = frame_stride
        super().__init__(filename, decode_file=False)

    def initialize(self, start_time: float = 0) -> None:
        """Start ffmpeg at the first frame; unlike moviepy, read nothing ahead."""
        self.close(delete_lastread=False)
        self.pos = 0
        filters = [f"scale={self.size[0]}:{self.size[1]}", "showinfo=checksum=0"]
        if self.frame_stride > 1:
            filters.insert(0, rf"select=not(mod(n\,{self.frame_stride}))")
        cmd = [
            FFMPEG_BINARY, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
            "-i", ffmpeg_escape_filename(self.filename),
            "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", ",".join(filters), "-sws_flags", self.resize_algo,
            "-fps_mode", "passthrough",
            "-f", "image2pipe", "-pix_fmt", self.pixel_format, "-vcodec", "rawvideo", "-",
        ]  # fmt: skip
        params = {
            "bufsize": self.bufsize,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
            "stdin": subprocess.DEVNULL,
        }
        self.proc = subprocess.Popen(cmd, **cross_platform_popen_params(params))


class VideoFrameReader:
    """Opens a video, yields every ``frame_stride``-th frame, and always closes ffmpeg."""

    def __init__(self, path: str | Path, frame_stride: int = 1) -> None:
        if frame_stride < 1:
            raise ValueError("frame_stride must be positive")
        self.path, self.frame_stride = Path(path), frame_stride
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # moviepy warns about odd metadata
                self._reader = _PassthroughReader(str(self.path), frame_stride)
        except (OSError, LookupError, ValueError) as exc:  # what moviepy raises on bad input
            raise VideoDecodeError(f"cannot decode the video: {self._one_line(exc)}") from exc
        self.fps = float(self._reader.fps) or 1.0
        self.width, self.height = (int(v) for v in self._reader.size)
        self._frame_bytes = self.width * self.height * 3
        self._times: queue.Queue[float | None] = queue.Queue()
        self._times_missing = False
        self._log_tail: deque[str] = deque(maxlen=3)
        self._stderr_drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_drain.start()

    def _drain_stderr(self) -> None:
        """Keep ffmpeg's stderr flowing, collect each frame's time, keep the last other lines."""
        stderr = self._reader.proc.stderr
        try:
            for raw in stderr:
                line = raw.decode("utf-8", "replace").strip()
                match = _SHOWINFO.search(line)
                if match:
                    self._times.put(_seconds(match.group(1)))
                elif line and "Parsed_showinfo" not in line and not line.startswith("frame="):
                    self._log_tail.append(line)
        except (OSError, ValueError):
            return  # the pipe was closed by close()

    def _read_next(self, index: int) -> np.ndarray | None:
        """The next frame; None at the end of the stream; raise if ffmpeg was killed."""
        proc = self._reader.proc
        data = proc.stdout.read(self._frame_bytes) if proc and proc.stdout else b""
        if len(data) == self._frame_bytes:
            return np.frombuffer(data, dtype=np.uint8).reshape(self.height, self.width, 3)
        returncode = proc.wait() if proc else 0
        if returncode < 0:
            raise VideoDecodeError(
                f"the decoder was killed (signal {-returncode}) at frame {index}"
            )
        return None

    def _time_of(self, index: int) -> float | None:
        """The frame's time from ffmpeg's log; after one miss, stop waiting for the rest."""
        if self._times_missing:
            return None
        try:
            return self._times.get(timeout=_PTS_WAIT_SECONDS)
        except queue.Empty:
            self._times_missing = True
            return None

    def frames(self, max_frames: int | None = None) -> Iterator[Frame]:
        """Yield frames 0, stride, 2*stride... until the stream ends or max_frames are kept."""
        if max_frames is not None and max_frames < 1:
            raise ValueError("max_frames must be positive")
        first_time: float | None = None
        kept = 0
        while max_frames is None or kept < max_frames:
            index = kept * self.frame_stride
            pixels = self._read_next(index)
            if pixels is None:
                break
            seconds = self._time_of(index)
            if kept == 0:
                first_time = seconds
            if seconds is None or first_time is None:
                seconds, first_time = index / self.fps, 0.0
            yield Frame(index, round((seconds - first_time) * 1000.0, 3), pixels)
            kept += 1
        if kept == 0:
            reason = "; ".join(self._log_tail) or "ffmpeg produced no frames"
            raise VideoDecodeError(f"the video has no decodable frames: {reason}"[:300])

    def close(self) -> None:
        """Stop the ffmpeg child, wait for it and close both of its pipes."""
        proc, self._reader.proc = self._reader.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            self._stderr_drain.join(timeout=5)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        self._reader.close()

    def _one_line(self, exc: BaseException) -> str:
        """ffmpeg's reasons come last in moviepy's messages: keep one line ending with them."""
        text = " ".join(str(exc).split()).replace(str(self.path), "the file")
        text = text or type(exc).__name__
        return text if len(text) <= 300 else "..." + text[-297:]

    def __enter__(self) -> VideoFrameReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # NOPTS

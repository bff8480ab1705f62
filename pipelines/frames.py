"""Decoded frames of a video file, at the size the pipeline needs, each one once.

The file's index is read in Python first (``pipelines.probe``): no ffmpeg start for the
probe, and too-large or too-long videos are refused before anything is decoded. Then one
ffmpeg, the one moviepy is configured with (the imageio-ffmpeg binary by default), decodes
the probed track only. It is held to the MP4/MOV demuxer and to local files (so a file
that is really a playlist or a manifest cannot make it read other files), refuses frames
over MAX_FRAME_PIXELS itself, and does everything in one filter graph: skipped frames are
dropped (``select``) before they are converted, kept ones are scaled to the pipeline's
size, and ``showinfo`` reports each frame's own time. Only the final pixels cross the pipe.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import queue
import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from moviepy.config import FFMPEG_BINARY

from pipelines.errors import DecoderKilled, VideoDecodeError
from pipelines.probe import (
    DecodeLimits,
    VideoInfo,
    check_limits,
    probe_video,
    too_long,
    too_many_frames,
)

log = logging.getLogger(__name__)
_SHOWINFO = re.compile(r"\] n:\s*\d+ pts:\s*\S+ pts_time:(\S+)")
#: How long to wait for a frame's time once its pixels have arrived.
_PTS_WAIT_SECONDS = 5.0
#: A larger pipe lets ffmpeg run a few frames ahead of Python (capped by the kernel).
_PIPE_BYTES = 1 << 20


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the decoded stream, its time and its RGB pixels."""

    index: int
    timestamp_ms: float
    pixels: np.ndarray


def output_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The frame size a pipeline receives: the video's, shrunk to fit max_side if larger."""
    longest = max(width, height)
    if max_side is None or longest <= max_side:
        return width, height
    return (
        max(1, (width * max_side + longest // 2) // longest),
        max(1, (height * max_side + longest // 2) // longest),
    )


def ffmpeg_command(
    path: Path, info: VideoInfo, size: tuple[int, int], frame_stride: int, max_pixels: int
) -> list[str]:
    """The one ffmpeg command of a job: MP4/MOV demuxer, local file only, one filter graph."""
    flags = "bicubic" if size == (info.width, info.height) else "area"
    filters = [f"scale={size[0]}:{size[1]}:flags={flags}", "format=rgb24", "showinfo=checksum=0"]
    if frame_stride > 1:
        filters.insert(0, rf"select=not(mod(n\,{frame_stride}))")
    return [
        FFMPEG_BINARY, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info",
        "-protocol_whitelist", "file", "-f", "mov", "-enable_drefs", "0",
        "-max_pixels", str(max_pixels),
        "-i", f"file:{path.resolve()}",
        "-map", f"0:{info.stream_index}", "-an", "-sn", "-dn",
        "-vf", ",".join(filters), "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip


class VideoFrameReader:
    """Probes a video, yields every ``frame_stride``-th frame, and always closes ffmpeg."""

    def __init__(
        self,
        path: str | Path,
        frame_stride: int = 1,
        max_side: int | None = None,
        limits: DecodeLimits | None = None,
    ) -> None:
        if frame_stride < 1:
            raise ValueError("frame_stride must be positive")
        self.path, self.frame_stride = Path(path), frame_stride
        self.limits = limits or DecodeLimits()
        self.info = probe_video(self.path)
        # The frame size and an empty track are refused now; the amount of work in frames().
        check_limits(self.info, self.limits, frame_stride, max_frames=1)
        self.fps = self.info.fps
        self.width, self.height = output_size(self.info.width, self.info.height, max_side)
        self.proc: subprocess.Popen[bytes] | None = None
        self._times: queue.Queue[float | None] = queue.Queue()
        self._times_missing = False
        self._log_tail: deque[str] = deque(maxlen=5)
        self._stderr_drain: threading.Thread | None = None
        self._stderr: io.BufferedReader | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        cmd = ffmpeg_command(
            self.path, self.info, (self.width, self.height), self.frame_stride,
            self.limits.max_frame_pixels,
        )  # fmt: skip
        proc = subprocess.Popen(
            cmd, bufsize=0, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.proc = proc
        with contextlib.suppress(OSError):  # a smaller pipe only costs speed
            fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        # Buffered: the pipes are unbuffered (bufsize=0), and reading lines from an unbuffered
        # pipe costs a system call per byte.
        self._stderr = io.BufferedReader(proc.stderr, 1 << 16) if proc.stderr else None
        self._stderr_drain = threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True)
        self._stderr_drain.start()
        return proc

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        """Keep ffmpeg's stderr flowing, collect each frame's time, keep the last other lines."""
        if self._stderr is None:
            return
        try:
            for raw in self._stderr:
                line = raw.decode("utf-8", "replace").strip()
                match = _SHOWINFO.search(line)
                if match:
                    self._times.put(_seconds(match.group(1)))
                elif line and "Parsed_showinfo" not in line:
                    self._log_tail.append(line)
        except (OSError, ValueError):
            return  # the pipe was closed by close()

    def _read_next(self, proc: subprocess.Popen[bytes], index: int) -> np.ndarray | None:
        """The next frame, read straight into its own array; None at the end of the stream."""
        pixels = np.empty((self.height, self.width, 3), dtype=np.uint8)
        view, got = memoryview(pixels).cast("B"), 0
        while got < len(view):
            count = proc.stdout.readinto(view[got:]) if proc.stdout else 0
            if not count:
                break
            got += count
        if got == len(view):
            return pixels
        returncode = proc.wait()
        if returncode < 0:
            raise DecoderKilled(-returncode, index)
        return None

    def _time_of(self) -> float | None:
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
        check_limits(self.info, self.limits, self.frame_stride, max_frames)
        proc = self.proc or self._start()
        first_time: float | None = None
        kept = 0
        while max_frames is None or kept < max_frames:
            index = kept * self.frame_stride
            pixels = self._read_next(proc, index)
            if pixels is None:
                break
            if index >= self.limits.max_job_frames:
                raise too_many_frames(self.limits)
            seconds = self._time_of()
            if kept == 0:
                first_time = seconds
            if seconds is None or first_time is None:
                seconds, first_time = index / self.fps, 0.0
            if seconds - first_time > self.limits.max_video_seconds:
                raise too_long(self.limits)
            yield Frame(index, round((seconds - first_time) * 1000.0, 3), pixels)
            kept += 1
        if kept == 0:
            if self._stderr_drain is not None:
                self._stderr_drain.join(timeout=5)
            log.warning("no decodable frames; ffmpeg said: %s", " | ".join(self._log_tail))
            raise VideoDecodeError(
                f"the video has no decodable frames (codec {self.info.codec!r}): it is damaged "
                "or uses a codec this service cannot decode"
            )

    def close(self) -> None:
        """Stop the ffmpeg child, wait for it and close both of its pipes."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self._stderr_drain is not None:
            self._stderr_drain.join(timeout=5)
        for pipe in (proc.stdout, self._stderr or proc.stderr):
            if pipe is not None:
                pipe.close()

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

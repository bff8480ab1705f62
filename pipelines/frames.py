"""Decoded frames of a video file, read with moviepy's ffmpeg reader, never invented."""

from __future__ import annotations

import threading
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from moviepy.video.io.ffmpeg_reader import FFMPEG_VideoReader

from pipelines.errors import VideoDecodeError


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the decoded stream, its time and its RGB pixels."""

    index: int
    timestamp_ms: float
    pixels: np.ndarray


class VideoFrameReader:
    """Opens a video, yields kept frames, and always closes the ffmpeg child behind it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with warnings.catch_warnings():
                # moviepy warns, then raises, when even the first frame cannot be read.
                warnings.simplefilter("ignore")
                self._reader = FFMPEG_VideoReader(str(self.path), decode_file=False)
        except (OSError, LookupError, ValueError) as exc:  # what moviepy raises on bad input
            reason = _one_line(exc).replace(str(self.path), "the file")
            raise VideoDecodeError(f"cannot decode the video: {reason}") from exc
        self.fps = float(self._reader.fps) or 1.0
        self.width, self.height = (int(v) for v in self._reader.size)
        self._frame_bytes = self.width * self.height * 3
        self._errors: deque[str] = deque(maxlen=5)
        self._stderr_drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_drain.start()

    def _drain_stderr(self) -> None:
        """Keep ffmpeg's stderr flowing (a full pipe would stall the decoder) and keep its tail."""
        proc = self._reader.proc
        if proc is None or proc.stderr is None:
            return
        try:
            for line in proc.stderr:
                self._errors.append(line.decode("utf-8", "replace").strip())
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

    def frames(self, frame_stride: int = 1, max_frames: int | None = None) -> Iterator[Frame]:
        """Yield frames 0, stride, 2*stride... until the stream ends or max_frames are kept."""
        if frame_stride < 1 or (max_frames is not None and max_frames < 1):
            raise ValueError("frame_stride and max_frames must be positive")
        pixels: np.ndarray | None = self._reader.last_read  # moviepy pre-reads frame 0
        index, kept = 0, 0
        while pixels is not None:
            yield Frame(index, round(index * 1000.0 / self.fps, 3), pixels)
            kept += 1
            if max_frames is not None and kept >= max_frames:
                return
            for _ in range(frame_stride - 1):
                index += 1
                if self._read_next(index) is None:
                    return
            index += 1
            pixels = self._read_next(index)

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

    def last_errors(self) -> list[str]:
        """The last lines ffmpeg wrote to stderr, to explain a failure."""
        return list(self._errors)

    def __enter__(self) -> VideoFrameReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _one_line(exc: BaseException) -> str:
    """ffmpeg's reasons come last in moviepy's messages: keep one line, ending with them."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else "..." + text[-297:]

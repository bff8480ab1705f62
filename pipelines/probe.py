"""What a video holds, read from its MP4/MOV boxes in Python before any decoder starts.

Reading the index (the ``moov`` box) ourselves costs no ffmpeg start, lets a job refuse
frames that are too large or too many before anything is decoded, and names the one track
that the decoder is then told to read (``-map 0:<index>``), so probe and decode agree.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.errors import VideoDecodeError

#: Defaults: the pixels of a 4K UHD frame, six hours, two million decoded frames.
DEFAULT_MAX_FRAME_PIXELS = 3840 * 2160
DEFAULT_MAX_VIDEO_SECONDS = 6 * 3600
DEFAULT_MAX_JOB_FRAMES = 2_000_000
#: An index larger than this is not read into memory (a 2M-frame index is ~30 MB).
_MAX_INDEX_BYTES = 128 * 1024 * 1024
#: Box types that may stand at the top level of an MP4/MOV file (ISO 14496-12, QuickTime).
_TOP_LEVEL = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof",
    b"mfra", b"sidx", b"ssix", b"styp", b"prft", b"emsg", b"pnot", b"PICT", b"junk", b"beam",
}  # fmt: skip

NOT_MP4 = "the file is not a readable MP4/MOV video"
NO_INDEX = (
    "the video's index (the MP4 'moov' box) is missing, usually because the file was cut "
    "short or is still being written: upload the whole file, or if the file plays, re-mux it "
    "with its index at the front (ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4) "
    "and upload that"
)


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds on the work one job may ask of the decoder; see the README's configuration."""

    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    max_video_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    max_job_frames: int = DEFAULT_MAX_JOB_FRAMES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DecodeLimits:
        """MAX_FRAME_PIXELS, MAX_VIDEO_SECONDS and MAX_JOB_FRAMES, each a positive number."""

        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            value = float(raw)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number, not {raw!r}")
            return value

        return cls(
            max_frame_pixels=int(number("MAX_FRAME_PIXELS", DEFAULT_MAX_FRAME_PIXELS)),
            max_video_seconds=number("MAX_VIDEO_SECONDS", DEFAULT_MAX_VIDEO_SECONDS),
            max_job_frames=int(number("MAX_JOB_FRAMES", DEFAULT_MAX_JOB_FRAMES)),
        )


@dataclass(frozen=True)
class VideoInfo:
    """The first video track: its stream index, codec, display size, frames and duration."""

    stream_index: int
    codec: str
    width: int
    height: int
    frame_count: int | None  # None when the samples are in fragments after the index
    duration_s: float | None

    @property
    def fps(self) -> float:
        """Average frames per second, for frames whose own time is unknown."""
        if self.frame_count and self.duration_s:
            return self.frame_count / self.duration_s
        return 30.0


class _Malformed(Exception):
    """A box's size runs past its parent or the file."""


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise _Malformed
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Malformed
        yield kind, pos + header, pos + size
        pos += size


def _read_index(handle: BinaryIO, file_size: int) -> bytes:
    """The moov box's payload, found by walking the top-level boxes without reading media."""
    pos = 0
    while pos + 8 <= file_size:
        handle.seek(pos)
        head = handle.read(16)
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1 and len(head) == 16:
            size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = file_size - pos
        if size < header or kind not in _TOP_LEVEL:
            raise VideoDecodeError(NOT_MP4)  # garbage, or another format behind an 'ftyp'
        if pos + size > file_size:  # cut short in its media data, or not a box at all
            raise VideoDecodeError(NO_INDEX if kind in (b"mdat", b"moof", b"moov") else NOT_MP4)
        if kind == b"moov":
            if size > _MAX_INDEX_BYTES:
                raise VideoDecodeError("the video's index is too large to read")
            handle.seek(pos + header)
            return handle.read(size - header)
        pos += size
    raise VideoDecodeError(NO_INDEX)


def _children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """The first box of each type directly inside data[start:end]."""
    found: dict[bytes, tuple[int, int]] = {}
    for kind, begin, finish in _boxes(data, start, end):
        found.setdefault(kind, (begin, finish))
    return found


def _find(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int] | None:
    for kind in path:
        box = _children(data, start, end).get(kind)
        if box is None:
            return None
        start, end = box
    return start, end


def _track(index: int, data: bytes, start: int, end: int, fragmented: bool) -> VideoInfo | None:
    """The track's VideoInfo if its handler is video, else None."""
    hdlr = _find(data, start, end, b"mdia", b"hdlr")
    if hdlr is None or data[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
        return None
    stsd = _find(data, start, end, b"mdia", b"minf", b"stbl", b"stsd")
    if stsd is None or stsd[1] - stsd[0] < 8 + 36:
        raise _Malformed
    entry = stsd[0] + 8
    codec = data[entry + 4 : entry + 8].decode("latin-1")
    width, height = struct.unpack_from(">HH", data, entry + 32)
    tkhd = _find(data, start, end, b"tkhd")
    if tkhd is not None:
        matrix_at = tkhd[0] + (52 if data[tkhd[0]] == 1 else 40)
        if matrix_at + 20 <= tkhd[1]:
            a, b, _, c, d = struct.unpack_from(">5i", data, matrix_at)
            if a == 0 and d == 0 and b != 0 and c != 0:  # turned by 90 or 270 degrees
                width, height = height, width
    duration_s = None
    mdhd = _find(data, start, end, b"mdia", b"mdhd")
    if mdhd is not None:
        version, at = data[mdhd[0]], mdhd[0]
        fields, at = (">IQ", at + 20) if version == 1 else (">II", at + 12)
        if at + struct.calcsize(fields) <= mdhd[1]:
            timescale, duration = struct.unpack_from(fields, data, at)
            duration_s = duration / timescale if timescale and duration else None
    frame_count = None
    stsz = _find(data, start, end, b"mdia", b"minf", b"stbl", b"stsz")
    if stsz is not None and stsz[1] - stsz[0] >= 12:
        frame_count = struct.unpack_from(">I", data, stsz[0] + 8)[0]
    if fragmented:
        frame_count, duration_s = (frame_count or None), None
    safe_codec = codec if re.fullmatch(r"[A-Za-z0-9 ._-]{4}", codec) else "unknown"
    return VideoInfo(index, safe_codec, width, height, frame_count, duration_s)


def probe_video(path: str | Path) -> VideoInfo:
    """Read the file's index and describe its first video track; raise VideoDecodeError."""
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        moov = _read_index(handle, file_size)
    try:
        boxes = list(_boxes(moov, 0, len(moov)))
        fragmented = any(kind == b"mvex" for kind, _, _ in boxes)
        tracks = [(begin, end) for kind, begin, end in boxes if kind == b"trak"]
        for index, (begin, end) in enumerate(tracks):
            info = _track(index, moov, begin, end, fragmented)
            if info is not None:
                break
        else:
            raise VideoDecodeError("the file has no video track")
    except (_Malformed, struct.error):
        raise VideoDecodeError("the video's index is damaged") from None
    if info.width < 1 or info.height < 1:
        raise VideoDecodeError("the video's index gives no frame size")
    return info


def check_limits(
    info: VideoInfo, limits: DecodeLimits, frame_stride: int, max_frames: int | None
) -> None:
    """Refuse, from the index alone, a job that would decode too large or too many frames."""
    pixels = info.width * info.height
    if pixels > limits.max_frame_pixels:
        raise VideoDecodeError(
            f"the video's frames are {info.width}x{info.height} pixels, more than the "
            f"{limits.max_frame_pixels} pixels a frame may have (MAX_FRAME_PIXELS)"
        )
    if info.frame_count == 0:
        raise VideoDecodeError("the video track holds no frames")
    if info.frame_count is None:
        return  # fragmented: the reader enforces the same bounds as it goes
    decoded = info.frame_count
    if max_frames is not None:
        decoded = min(decoded, max_frames * frame_stride)
    seconds = (info.duration_s or 0.0) * decoded / info.frame_count
    if decoded > limits.max_job_frames:
        raise too_many_frames(limits)
    if seconds > limits.max_video_seconds:
        raise too_long(limits)


def too_many_frames(limits: DecodeLimits) -> VideoDecodeError:
    """The error for a job that would decode more than MAX_JOB_FRAMES frames."""
    return VideoDecodeError(
        f"the job would decode more than {limits.max_job_frames} frames (MAX_JOB_FRAMES): "
        "set max_frames to analyse only the start of the video"
    )


def too_long(limits: DecodeLimits) -> VideoDecodeError:
    """The error for a job that would decode more than MAX_VIDEO_SECONDS of video."""
    return VideoDecodeError(
        f"the job would decode more than {limits.max_video_seconds:g} s of video "
        "(MAX_VIDEO_SECONDS): set max_frames to analyse only the start of the video"
    )

"""Parsing and checking a submission's form fields and file before anything is stored."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import IO

from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest

#: Bounds that keep a stride or frame limit meaningful and inside a 32-bit INTEGER.
MAX_FRAME_STRIDE = 100_000
MAX_MAX_FRAMES = 10_000_000
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Submission:
    """A checked submission: the upload stream and the job's parameters."""

    stream: IO[bytes]
    pipeline_id: str
    frame_stride: int
    max_frames: int | None


def _positive_int(form: Mapping[str, str], name: str, upper: int) -> int | None:
    raw = form.get(name, "").strip()
    if raw == "":
        return None
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= upper:
        raise BadRequest(f"{name} must be a whole number from 1 to {upper}, not {raw[:40]!r}")
    return int(raw)


#: ISO-BMFF major brands of still images (JPEG 2000, JPEG XL, AVIF, HEIF/HEIC, Canon RAW).
IMAGE_BRANDS = frozenset(
    b.encode() for b in ("jp2 ", "jpx ", "jpm ", "jph ", "jxl ", "avif", "avio", "heic", "heix",
                         "heim", "heis", "mif1", "mif2", "avci", "crx ")
)  # fmt: skip


def is_iso_bmff(head: bytes) -> bool:
    """MP4, MOV and their family start with a box whose type, bytes 4..8, is ``ftyp``."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def brand_problem(head: bytes) -> str | None:
    """Why a file that starts with 'ftyp' is still not a video we read, or None.

    The box must be a real 'ftyp' box (16 bytes to 4 KiB, whole brands), so that text such
    as ``<!--ftyp`` is not taken for one, and its major brand must not be a still image's.
    """
    size = int.from_bytes(head[:4], "big")
    if not 16 <= size <= 4096 or size % 4:
        return "the uploaded file is not an MP4/MOV video (its 'ftyp' box is malformed)"
    if head[8:12] in IMAGE_BRANDS:
        brand = head[8:12].decode("latin-1").strip()
        return f"the uploaded file is a still image ({brand}), not an MP4/MOV video"
    return None


def parse_submission(
    form: Mapping[str, str],
    files: Mapping[str, FileStorage],
    pipeline_ids: Collection[str],
    default_pipeline_id: str,
) -> Submission:
    """Check every field and the file's signature; raise BadRequest naming the first problem."""
    upload = files.get("file")
    if upload is None:
        raise BadRequest("missing 'file': send the video as multipart/form-data field 'file'")
    pipeline_id = form.get("pipeline_id", "").strip() or default_pipeline_id
    if pipeline_id not in pipeline_ids:
        raise BadRequest(
            f"unknown pipeline_id {pipeline_id[:64]!r}; choose one of {sorted(pipeline_ids)}"
        )
    frame_stride = _positive_int(form, "frame_stride", MAX_FRAME_STRIDE) or 1
    max_frames = _positive_int(form, "max_frames", MAX_MAX_FRAMES)
    stream = upload.stream
    head = stream.read(12)
    if not head:
        raise BadRequest("the uploaded file is empty")
    if not is_iso_bmff(head):
        raise BadRequest("the uploaded file is not an MP4/MOV video (no 'ftyp' box at its start)")
    problem = brand_problem(head)
    if problem:
        raise BadRequest(problem)
    stream.seek(0)
    return Submission(stream, pipeline_id, frame_stride, max_frames)

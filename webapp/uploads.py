"""Parsing and checking a submission's form fields and file before anything is stored."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import IO

from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest

#: Bounds that keep a stride or frame limit meaningful and inside a 32-bit INTEGER.
MAX_FRAME_STRIDE = 100_000
MAX_MAX_FRAMES = 10_000_000
_DIGITS = re.compile(r"[0-9]{1,10}")
#: The one accepted spelling of a job or upload id: lowercase 8-4-4-4-12 hex.
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FORM_FIELDS = ("pipeline_id", "frame_stride", "max_frames", "upload_id")
FILE_FIELDS = ("file",)


@dataclass(frozen=True)
class Submission:
    """A checked submission: the upload stream and the job's parameters."""

    stream: IO[bytes] | None
    pipeline_id: str
    frame_stride: int
    max_frames: int | None
    upload_id: uuid.UUID | None = None


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
    _refuse_unknown_fields(form, files)
    upload = files.get("file")
    upload_id = parse_uuid(form.get("upload_id", "").strip(), "upload_id")
    if upload is not None and upload_id is not None:
        raise BadRequest("send either 'file' or 'upload_id', not both")
    if upload is None and upload_id is None:
        raise BadRequest("missing 'file': send the video as multipart/form-data field 'file'")
    pipeline_id = form.get("pipeline_id", "").strip() or default_pipeline_id
    if pipeline_id not in pipeline_ids:
        raise BadRequest(
            f"unknown pipeline_id {pipeline_id[:64]!r}; choose one of {sorted(pipeline_ids)}"
        )
    frame_stride = _positive_int(form, "frame_stride", MAX_FRAME_STRIDE) or 1
    max_frames = _positive_int(form, "max_frames", MAX_MAX_FRAMES)
    if upload is None:
        return Submission(None, pipeline_id, frame_stride, max_frames, upload_id)
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


def _refuse_unknown_fields(form: Mapping[str, str], files: Mapping[str, FileStorage]) -> None:
    """A misspelt field must not silently fall back to a default: name it and the known ones."""
    for name in [*form.keys(), *files.keys()]:
        if name not in FORM_FIELDS + FILE_FIELDS:
            known = ", ".join(FILE_FIELDS + FORM_FIELDS)
            raise BadRequest(f"unknown form field {name[:40]!r}; the accepted fields are {known}")
        if name in FORM_FIELDS and name in files:
            raise BadRequest(f"{name!r} must be a plain form field, not a file")
        if name in FILE_FIELDS and name in form:
            raise BadRequest(f"{name!r} must be a file part (curl -F {name}=@clip.mp4)")


def parse_uuid(raw: str, what: str) -> uuid.UUID | None:
    """The canonical lowercase form only (no braces, urn: or missing dashes); None if blank."""
    if raw == "":
        return None
    if not CANONICAL_UUID.fullmatch(raw):
        raise BadRequest(f"{what} must be a lowercase 8-4-4-4-12 id, not {raw[:40]!r}")
    return uuid.UUID(raw)

"""Results in storage, written once and served around the stored bytes without parsing them.

A job's results are two objects:

- ``<job_id>_results.json``: ``{"job_id":"...","results":[frame,...]}``, a valid JSON
  document on its own. The response is its bytes without the closing ``}``, followed by
  ``,"created_at":...,"updated_at":...}``.
- ``<job_id>_results.index``: a header, the byte offset of every frame in the JSON (so a
  page is one ranged read) and the same bytes as one raw deflate stream ending in a sync
  flush. A gzip response is a gzip header, that stream, the compressed timestamps and the
  CRC-32 and length trailer: one ordinary gzip member that every client decodes, compressed
  once when the results were written.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from webapp.storage import ObjectNotFound, Storage

_MAGIC = b"VJRESIDX"
# magic, frame count, JSON length, deflate offset, deflate length, CRC-32 of JSON minus "}"
_HEADER = struct.Struct("<8sQQQQI4x")
_OFFSET = struct.Struct("<Q")
#: A gzip member header: deflate, no name, no time, unknown OS (RFC 1952).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_SPOOL_BYTES = 8 * 1024 * 1024


def results_key(job_id: object) -> str:
    """Where a job's results JSON is stored: derived from the job id alone."""
    return f"{job_id}_results.json"


def index_key(job_id: object) -> str:
    """Where a job's frame offsets and precompressed results are stored."""
    return f"{job_id}_results.index"


def results_keys(job_id: object) -> list[str]:
    """Every object that holds a job's results (for cleanup)."""
    return [results_key(job_id), index_key(job_id)]


def delete_results(storage: Storage, job_id: object) -> None:
    """Remove a job's results objects; missing ones are not an error."""
    for key in results_keys(job_id):
        storage.delete(key)


def write_results(storage: Storage, job_id: object, frames: Iterable[dict]) -> str:
    """Stream ``frames`` to storage through temp files, never holding them; return the key."""
    try:
        return _write(storage, job_id, iter(frames))
    finally:
        close = getattr(frames, "close", None)
        if close is not None:  # a generator stopped early still releases its decoder
            close()


def _write(storage: Storage, job_id: object, frames: Iterator[dict]) -> str:
    prefix = json.dumps({"job_id": str(job_id)}, separators=(",", ":"))[:-1]
    head = (prefix + ',"results":[').encode()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    with (
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as plain,
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as deflated,
        tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as offsets,
    ):
        crc, size = 0, 0

        def emit(data: bytes) -> None:
            nonlocal crc, size
            plain.write(data)
            crc, size = zlib.crc32(data, crc), size + len(data)
            deflated.write(compressor.compress(data))

        emit(head)
        count = 0
        for frame in frames:
            offsets.write(_OFFSET.pack(size + (1 if count else 0)))
            emit((b"," if count else b"") + json.dumps(frame, separators=(",", ":")).encode())
            count += 1
        offsets.write(_OFFSET.pack(size + 1))  # where a frame after the last would start
        emit(b"]")
        deflated.write(compressor.flush(zlib.Z_SYNC_FLUSH))
        plain.write(b"}")
        deflate_at = _HEADER.size + offsets.tell()
        header = _HEADER.pack(_MAGIC, count, size + 1, deflate_at, deflated.tell(), crc)
        with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as index:
            index.write(header)
            for part in (offsets, deflated):
                part.seek(0)
                shutil.copyfileobj(part, index)
            index.seek(0)
            storage.save_fileobj(index_key(job_id), index)
        plain.seek(0)
        key = results_key(job_id)
        try:
            storage.save_fileobj(key, plain)
        except BaseException:
            storage.delete(index_key(job_id))
            raise
        return key


@dataclass(frozen=True)
class StoredResults:
    """What the index header says about a job's stored results."""

    key: str
    index: str
    frame_count: int
    json_length: int
    deflate_at: int
    deflate_length: int
    crc: int


def open_results(storage: Storage, job_id: object) -> StoredResults | None:
    """Read the index header; None for results written before the index existed."""
    try:
        raw = b"".join(storage.open_range(index_key(job_id), 0, _HEADER.size))
    except ObjectNotFound:
        return None
    magic, count, length, deflate_at, deflate_length, crc = _HEADER.unpack(raw)
    if magic != _MAGIC:
        raise ValueError(f"{index_key(job_id)} is not a results index")
    return StoredResults(
        results_key(job_id), index_key(job_id), count, length, deflate_at, deflate_length, crc
    )


def _tail(created_at: str, updated_at: str) -> bytes:
    return (
        ',"created_at":' + json.dumps(created_at) + ',"updated_at":' + json.dumps(updated_at) + "}"
    ).encode()


def stream_whole(
    storage: Storage, stored: StoredResults, created_at: str, updated_at: str, gzip: bool
) -> tuple[Iterator[bytes], int]:
    """The whole response body, plain or gzip, from storage without parsing; and its length."""
    tail = _tail(created_at, updated_at)
    if not gzip:
        body = storage.open_range(stored.key, 0, stored.json_length - 1)
        return _chain([], body, [tail]), stored.json_length - 1 + len(tail)
    start = stored.deflate_at
    body = storage.open_range(stored.index, start, start + stored.deflate_length)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = zlib.crc32(tail, stored.crc)
    length = (stored.json_length - 1 + len(tail)) & 0xFFFFFFFF
    end = compressor.compress(tail) + compressor.flush() + struct.pack("<II", crc, length)
    size = len(_GZIP_HEADER) + stored.deflate_length + len(end)
    return _chain([_GZIP_HEADER], body, [end]), size


def stream_page(
    storage: Storage,
    stored: StoredResults,
    job_id: str,
    offset: int,
    limit: int,
    created_at: str,
    updated_at: str,
) -> Iterator[bytes]:
    """Frames ``offset..offset+limit`` in the same body shape: two ranged reads, no parsing."""
    first = min(offset, stored.frame_count)
    last = min(offset + limit, stored.frame_count)
    at = stored.deflate_at - (stored.frame_count + 1) * _OFFSET.size
    start, stop = (
        _OFFSET.unpack(b"".join(storage.open_range(stored.index, pos, pos + _OFFSET.size)))[0]
        for pos in (at + first * _OFFSET.size, at + last * _OFFSET.size)
    )
    head = json.dumps({"job_id": job_id}, separators=(",", ":"))[:-1] + ',"results":['
    body = storage.open_range(stored.key, start, stop - 1) if last > first else iter(())
    return _chain([head.encode()], body, [b"]" + _tail(created_at, updated_at)])


def _chain(before: list[bytes], body: Iterator[bytes], after: list[bytes]) -> Iterator[bytes]:
    yield from before
    try:
        yield from body
    finally:
        close = getattr(body, "close", None)
        if close:
            close()
    yield from after


def gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Compress a (bounded) page on the fly, for clients that accept gzip."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        if out := compressor.compress(chunk):
            yield out
    yield compressor.flush()


def legacy_document(storage: Storage, key: str) -> list[dict]:
    """Results stored before the index existed: parsed whole (small, old jobs only)."""
    return json.loads(storage.get_bytes(key))["results"]

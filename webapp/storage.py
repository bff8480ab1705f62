"""Object storage for uploaded videos and result files: a local directory or an S3 bucket.

The web tier and the workers only talk to the ``Storage`` protocol, so the same code runs
against a shared volume in development and against S3 (or MinIO) in production.
Nothing is built at import time; the boto3 client is created on first use.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

CHUNK_SIZE = 1024 * 1024
"""Copy buffer size for chunked uploads and downloads (1 MiB)."""

MULTIPART_THRESHOLD = 8 * 1024 * 1024
"""Objects at least this big are uploaded to S3 in parts (read when an S3Storage is built)."""

MULTIPART_CHUNKSIZE = 8 * 1024 * 1024
"""Part size for S3 multipart uploads and ranged downloads."""

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class StorageError(Exception):
    """Raised when the backing store cannot be reached or the object is missing."""


class ObjectNotFound(StorageError):
    """Raised when the requested key does not exist, so callers can answer 404."""


@runtime_checkable
class Storage(Protocol):
    """What the web tier and the workers need from a blob store, whatever backs it."""

    def save_fileobj(self, key: str, fileobj: BinaryIO) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download_to(self, key: str, dest: pathlib.Path) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def describe(self) -> str: ...
    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative name, else raise ValueError (blocks traversal)."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must not contain backslashes or NUL: {key!r}")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative, not absolute: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"storage key must not contain empty, '.' or '..' segments: {key!r}")
    return key


#: Stored files are readable by the service's user only unless STORAGE_FILE_MODE says otherwise.
DEFAULT_FILE_MODE = 0o600


@contextmanager
def _atomic_file(path: pathlib.Path, mode: int = DEFAULT_FILE_MODE) -> Iterator[BinaryIO]:
    """Yield a temp file next to ``path`` that replaces ``path`` only if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the exact mode, whatever the umask
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class LocalStorage:
    """Stores objects as files under one directory (a shared volume in multi-host setups)."""

    def __init__(self, root: pathlib.Path, file_mode: int = DEFAULT_FILE_MODE) -> None:
        self.root = pathlib.Path(root).absolute()
        self.file_mode = file_mode
        # Folders get the search bit wherever the files get read access (0600 -> 0700).
        self.dir_mode = file_mode | ((file_mode & 0o444) >> 2)

    def _path(self, key: str) -> pathlib.Path:
        return self.root / validate_key(key)

    def _write(self, key: str, writer: Callable[[BinaryIO], object]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(mode=self.dir_mode, parents=True, exist_ok=True)
            with _atomic_file(path, self.file_mode) as fh:
                writer(fh)
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} under {self.describe()}: {exc}") from exc

    def save_fileobj(self, key: str, fileobj: BinaryIO) -> None:
        """Stream ``fileobj`` to ``key`` in 1 MiB chunks; a failed copy leaves no file behind."""
        self._write(key, lambda fh: shutil.copyfileobj(fileobj, fh, CHUNK_SIZE))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Atomically store a small object such as a results JSON."""
        self._write(key, lambda fh: fh.write(data))

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object; raise ObjectNotFound if it does not exist."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.describe()}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} from {self.describe()}: {exc}") from exc

    def download_to(self, key: str, dest: pathlib.Path) -> None:
        """Copy the object to ``dest`` atomically; raise ObjectNotFound if it does not exist."""
        path = self._path(key)
        dest = pathlib.Path(dest)
        try:
            with path.open("rb") as src, _atomic_file(dest) as fh:
                shutil.copyfileobj(src, fh, CHUNK_SIZE)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            if not path.is_file():
                raise ObjectNotFound(f"no object {key!r} in {self.describe()}") from exc
            raise StorageError(f"cannot copy {key!r} to {dest}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot copy {key!r} to {dest}: {exc}") from exc

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r} from {self.describe()}: {exc}") from exc

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under ``key``."""
        return self._path(key).is_file()

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Open the object now (ObjectNotFound here) and stream bytes ``start..end`` in chunks."""
        try:
            fh = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.describe()}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} from {self.describe()}: {exc}") from exc
        fh.seek(start)
        return _chunks(fh, None if end is None else end - start)

    def describe(self) -> str:
        """Return a ``file://`` URL of the root directory for logs."""
        return self.root.as_uri()


def _chunks(fh: Any, remaining: int | None) -> Iterator[bytes]:
    """Read ``remaining`` bytes (all if None) in CHUNK_SIZE pieces; close ``fh`` at the end."""
    try:
        while remaining is None or remaining > 0:
            chunk = fh.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def storage_from_url(url: str, file_mode: int = DEFAULT_FILE_MODE) -> Storage:
    """Build the store named by STORAGE_URL: ``file:///dir``, ``s3://bucket/prefix`` or a path."""
    if not url or not url.strip():
        raise ValueError("storage URL is empty; expected file:///abs/dir, s3://bucket[/prefix]")
    url = url.strip()
    if not _SCHEME_RE.match(url):
        return LocalStorage(pathlib.Path(url).expanduser().resolve(), file_mode)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment:
        raise ValueError(f"storage URL must not have a query or fragment: {url!r}")
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"file storage URL must be absolute, like file:///abs/dir: {url!r}")
        return LocalStorage(pathlib.Path(path), file_mode)
    if scheme == "s3":
        from webapp.storage_s3 import S3Storage

        if not parts.netloc:
            raise ValueError(f"S3 storage URL needs a bucket, like s3://bucket/prefix: {url!r}")
        return S3Storage(parts.netloc, unquote(parts.path).strip("/"))
    raise ValueError(
        f"unsupported storage URL scheme {parts.scheme!r} in {url!r}; "
        "expected file:///abs/dir, s3://bucket[/prefix] or a filesystem path"
    )


def __getattr__(name: str) -> Any:
    """``webapp.storage.S3Storage`` still names the S3 backend, imported on first use."""
    if name == "S3Storage":
        from webapp.storage_s3 import S3Storage

        return S3Storage
    raise AttributeError(name)

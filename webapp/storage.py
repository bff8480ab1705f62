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
import threading
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


@contextmanager
def _atomic_file(path: pathlib.Path) -> Iterator[BinaryIO]:
    """Yield a temp file next to ``path`` that replaces ``path`` only if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 honours the umask, unlike mkstemp's 0o600, so other users can read.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
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

    def __init__(self, root: pathlib.Path) -> None:
        self.root = pathlib.Path(root).absolute()

    def _path(self, key: str) -> pathlib.Path:
        return self.root / validate_key(key)

    def _write(self, key: str, writer: Callable[[BinaryIO], object]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _atomic_file(path) as fh:
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

    def describe(self) -> str:
        """Return a ``file://`` URL of the root directory for logs."""
        return self.root.as_uri()


class S3Storage:
    """Stores objects in an S3 (or S3-compatible) bucket under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any | None = None,
        *,
        transfer_config: Any | None = None,
        client_config: Any | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("S3 bucket name must not be empty")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self._client = client
        self._client_config = client_config
        self._client_lock = threading.Lock()
        if transfer_config is None:
            from boto3.s3.transfer import TransferConfig

            transfer_config = TransferConfig(
                multipart_threshold=MULTIPART_THRESHOLD,
                multipart_chunksize=MULTIPART_CHUNKSIZE,
                max_concurrency=4,
            )
        self.transfer_config = transfer_config

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created on first use so env config and forks are respected."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3

                    # A private session: the default one is not safe to share across threads.
                    session = boto3.session.Session()
                    self._client = session.client("s3", config=self._client_config)
        return self._client

    def _full_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _translate(self, action: str, key: str) -> Iterator[None]:
        """Turn boto errors into ObjectNotFound / StorageError with a one-line message."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"s3://{self.bucket}/{self._full_key(key)}"
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ObjectNotFound(f"no object {where}") from exc
            msg = error.get("Message") or exc
            raise StorageError(_one_line(f"S3 {action} {where} failed: {code} {msg}")) from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(_one_line(f"S3 {action} {where} failed: {exc}")) from exc
        except OSError as exc:  # local side of a transfer: unreadable stream, unwritable dest
            raise StorageError(_one_line(f"S3 {action} {where} failed: {exc}")) from exc

    def save_fileobj(self, key: str, fileobj: BinaryIO) -> None:
        """Stream ``fileobj`` to S3, in parts when it is large, without buffering it all."""
        full = self._full_key(key)
        with self._translate("upload", key):
            self.client.upload_fileobj(fileobj, self.bucket, full, Config=self.transfer_config)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store a small object in a single PUT."""
        full = self._full_key(key)
        with self._translate("put", key):
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data)

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object; raise ObjectNotFound if it does not exist."""
        full = self._full_key(key)
        with self._translate("get", key):
            body = self.client.get_object(Bucket=self.bucket, Key=full)["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def download_to(self, key: str, dest: pathlib.Path) -> None:
        """Download to ``dest`` via a temp file, so a failure never leaves a partial ``dest``."""
        full = self._full_key(key)
        dest = pathlib.Path(dest)
        with self._translate("download", key), _atomic_file(dest) as fh:
            self.client.download_fileobj(self.bucket, full, fh, Config=self.transfer_config)

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        full = self._full_key(key)
        try:
            with self._translate("delete", key):
                self.client.delete_object(Bucket=self.bucket, Key=full)
        except ObjectNotFound:
            pass

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored under ``key`` (HEAD request)."""
        full = self._full_key(key)
        try:
            with self._translate("head", key):
                self.client.head_object(Bucket=self.bucket, Key=full)
        except ObjectNotFound:
            return False
        return True

    def describe(self) -> str:
        """Return ``s3://bucket/prefix`` for logs."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def storage_from_url(url: str) -> Storage:
    """Build the store named by STORAGE_URL: ``file:///dir``, ``s3://bucket/prefix`` or a path."""
    if not url or not url.strip():
        raise ValueError("storage URL is empty; expected file:///abs/dir, s3://bucket[/prefix]")
    url = url.strip()
    if not _SCHEME_RE.match(url):
        return LocalStorage(pathlib.Path(url).expanduser().resolve())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment:
        raise ValueError(f"storage URL must not have a query or fragment: {url!r}")
    if scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"file storage URL must be absolute, like file:///abs/dir: {url!r}")
        return LocalStorage(pathlib.Path(path))
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"S3 storage URL needs a bucket, like s3://bucket/prefix: {url!r}")
        return S3Storage(parts.netloc, unquote(parts.path).strip("/"))
    raise ValueError(
        f"unsupported storage URL scheme {parts.scheme!r} in {url!r}; "
        "expected file:///abs/dir, s3://bucket[/prefix] or a filesystem path"
    )

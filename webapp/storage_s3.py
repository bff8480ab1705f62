"""The S3 (or S3-compatible) backend of the ``Storage`` protocol; boto3 is built on first use."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from webapp import storage as base
from webapp.storage import (
    ObjectNotFound,
    StorageError,
    _atomic_file,
    _chunks,
    _one_line,
    validate_key,
)


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
                multipart_threshold=base.MULTIPART_THRESHOLD,
                multipart_chunksize=base.MULTIPART_CHUNKSIZE,
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

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """GET bytes ``start..end`` now (ObjectNotFound here) and stream the body in chunks."""
        full = self._full_key(key)
        last = "" if end is None else str(end - 1)
        with self._translate("get", key):
            if end is not None and end <= start:
                return iter(())
            body = self.client.get_object(
                Bucket=self.bucket, Key=full, Range=f"bytes={start}-{last}"
            )["Body"]
        return _chunks(body, None)

    def describe(self) -> str:
        """Return ``s3://bucket/prefix`` for logs."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

"""Tests for webapp.storage: local directory store, URL parsing, and S3 over HTTP via moto."""

from __future__ import annotations

import io
import os
import pathlib
import socket
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from tests.conftest import S3_BUCKET as BUCKET
from tests.conftest import set_aws_env
from webapp import storage
from webapp.storage import (
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    Storage,
    StorageError,
    storage_from_url,
)

MIB = 1024 * 1024
PREFIX = "some/prefix"
BAD_KEYS = ["", "/etc/passwd", "..", "../x.mp4", "a/../../x", "a\\b.mp4", "a//b", "./a", "a/"]


class BrokenStream:
    """A stream that yields some bytes and then fails, like a client dropping mid-upload."""

    def __init__(self, good_bytes: int, exc: BaseException) -> None:
        self.remaining = good_bytes
        self.exc = exc

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            raise self.exc
        n = self.remaining if size < 0 else min(size, self.remaining)
        self.remaining -= n
        return b"x" * n


def new_key(suffix: str = ".mp4") -> str:
    return f"{uuid.uuid4()}{suffix}"


# --------------------------------------------------------------------------- LocalStorage


def test_local_round_trip(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "store"
    store = LocalStorage(root)
    assert isinstance(store, Storage)
    assert not root.exists(), "root must be created lazily, on first write"

    data = os.urandom(3 * MIB + 123)
    key = new_key()
    assert not store.exists(key)
    store.save_fileobj(key, io.BytesIO(data))
    assert store.exists(key)
    assert store.get_bytes(key) == data

    dest = tmp_path / "copy.mp4"
    dest.write_bytes(b"stale temp file content")
    store.download_to(key, dest)
    assert dest.read_bytes() == data

    results = new_key("_results.json")
    store.put_bytes(results, b'{"a": 1}')
    store.put_bytes(results, b'{"a": 2}')
    assert store.get_bytes(results) == b'{"a": 2}'
    store.put_bytes("nested/dir/x.json", b"{}")
    assert store.get_bytes("nested/dir/x.json") == b"{}"

    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # idempotent
    assert sorted(p.name for p in root.iterdir()) == sorted([results, "nested"])
    assert store.describe() == root.as_uri()


def test_local_missing_key(tmp_path: pathlib.Path) -> None:
    store = LocalStorage(tmp_path / "store")
    with pytest.raises(ObjectNotFound):
        store.get_bytes("nope.mp4")
    dest = tmp_path / "out.mp4"
    with pytest.raises(ObjectNotFound):
        store.download_to("nope.mp4", dest)
    assert not dest.exists()
    assert issubclass(ObjectNotFound, StorageError)


@pytest.mark.parametrize("exc", [RuntimeError("client went away"), OSError("read failed")])
def test_local_failed_upload_leaves_nothing(tmp_path: pathlib.Path, exc: BaseException) -> None:
    root = tmp_path / "store"
    store = LocalStorage(root)
    kept, fresh = new_key(), new_key()
    store.put_bytes(kept, b"original")

    expected = StorageError if isinstance(exc, OSError) else type(exc)
    for key in (kept, fresh):
        with pytest.raises(expected):
            store.save_fileobj(key, BrokenStream(3 * MIB, exc))  # type: ignore[arg-type]

    assert store.get_bytes(kept) == b"original"
    assert not store.exists(fresh)
    assert [p.name for p in root.iterdir()] == [kept], "no temp file may be left behind"


def test_local_unwritable_root_is_storage_error(tmp_path: pathlib.Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    with pytest.raises(StorageError, match="cannot write"):
        LocalStorage(not_a_dir).put_bytes("x.json", b"{}")


@pytest.mark.parametrize("kind", ["local", "s3"])
@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_rejected(tmp_path: pathlib.Path, kind: str, key: str) -> None:
    # The S3 client is a sentinel: validation must happen before any network call.
    store: Storage = (
        LocalStorage(tmp_path / "store") if kind == "local" else S3Storage("b", client=object())
    )
    calls = [
        lambda: store.save_fileobj(key, io.BytesIO(b"x")),
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.download_to(key, tmp_path / "dest"),
        lambda: store.delete(key),
        lambda: store.exists(key),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="storage key"):
            call()
    assert not (tmp_path / "etc").exists()
    assert not (tmp_path / "dest").exists()


# --------------------------------------------------------------------------- storage_from_url


def test_url_file_scheme(tmp_path: pathlib.Path) -> None:
    store = storage_from_url(tmp_path.as_uri())
    assert isinstance(store, LocalStorage)
    assert store.root == tmp_path
    assert store.describe() == tmp_path.as_uri()
    local = storage_from_url("file://localhost/srv/videos")
    assert isinstance(local, LocalStorage)
    assert local.root == pathlib.Path("/srv/videos")


def test_url_plain_paths(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = storage_from_url("./data/video_jobs")
    assert isinstance(rel, LocalStorage)
    assert rel.root == tmp_path.resolve() / "data" / "video_jobs"
    assert rel.root.is_absolute()
    absolute = storage_from_url(str(tmp_path / "abs"))
    assert isinstance(absolute, LocalStorage)
    assert absolute.root == tmp_path.resolve() / "abs"
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("url", "bucket", "prefix", "described"),
    [
        ("s3://bucket/some/prefix", "bucket", "some/prefix", "s3://bucket/some/prefix"),
        ("s3://bucket/some/prefix/", "bucket", "some/prefix", "s3://bucket/some/prefix"),
        ("s3://bucket", "bucket", "", "s3://bucket"),
        ("s3://bucket/", "bucket", "", "s3://bucket"),
    ],
)
def test_url_s3(url: str, bucket: str, prefix: str, described: str) -> None:
    store = storage_from_url(url)
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.describe()) == (bucket, prefix, described)
    assert store._client is None, "no boto3 client may be built before first use"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "http://example.com/videos",
        "gs://bucket/prefix",
        "s3://",
        "s3:///prefix",
        "s3://bucket/a/../b",
        "s3://bucket/p?versionId=1",
        "file://relative/dir",
    ],
)
def test_url_invalid(url: str) -> None:
    with pytest.raises(ValueError, match=r"storage URL|bucket|storage key"):
        storage_from_url(url)


# --------------------------------------------------------------------------- S3 (moto server)


@pytest.fixture
def admin(s3_env: str) -> Any:
    """A separate client for checking what really landed in the bucket."""
    return boto3.session.Session().client("s3")


def make_s3_store() -> S3Storage:
    store = storage_from_url(f"s3://{BUCKET}/{PREFIX}/")
    assert isinstance(store, S3Storage)
    return store


def test_s3_round_trip(s3_env: str, admin: Any, tmp_path: pathlib.Path) -> None:
    store = make_s3_store()
    assert isinstance(store, Storage)
    video, results = new_key(), new_key("_results.json")
    data = os.urandom(256 * 1024)

    assert not store.exists(video)
    store.save_fileobj(video, io.BytesIO(data))
    store.put_bytes(results, b'{"frames": 3}')
    assert store.exists(video)
    assert store.get_bytes(video) == data
    assert store.get_bytes(results) == b'{"frames": 3}'

    dest = tmp_path / "local.mp4"
    store.download_to(video, dest)
    assert dest.read_bytes() == data

    listed = admin.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    keys = {obj["Key"] for obj in listed.get("Contents", [])}
    assert {f"{PREFIX}/{video}", f"{PREFIX}/{results}"} <= keys
    assert admin.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{results}")["Body"].read() == (
        b'{"frames": 3}'
    )

    store.delete(video)
    assert not store.exists(video)
    store.delete(video)  # idempotent
    store.delete(results)


def test_s3_missing_key(s3_env: str, tmp_path: pathlib.Path) -> None:
    store = make_s3_store()
    with pytest.raises(ObjectNotFound):
        store.get_bytes("missing.json")
    dest = tmp_path / "out.mp4"
    with pytest.raises(ObjectNotFound):
        store.download_to("missing.mp4", dest)
    assert list(tmp_path.iterdir()) == []


def test_s3_multipart_upload(
    s3_env: str, admin: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 5 * MIB)
    monkeypatch.setattr(storage, "MULTIPART_CHUNKSIZE", 5 * MIB)
    store = make_s3_store()
    data = os.urandom(12 * MIB)
    src = tmp_path / "upload.mp4"
    src.write_bytes(data)
    key = new_key()

    with src.open("rb") as fh:
        store.save_fileobj(key, fh)

    head = admin.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), "expected a 3-part multipart upload"

    dest = tmp_path / "download.mp4"
    store.download_to(key, dest)
    assert dest.read_bytes() == data
    store.delete(key)


def test_s3_unreachable_endpoint(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    with socket.socket() as sock:  # grab a free port, then close it so nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    set_aws_env(monkeypatch, tmp_path, f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    store = make_s3_store()
    dest = tmp_path / "out.mp4"

    calls = [
        lambda: store.save_fileobj("a.mp4", io.BytesIO(b"x")),
        lambda: store.put_bytes("a.json", b"{}"),
        lambda: store.get_bytes("a.json"),
        lambda: store.download_to("a.mp4", dest),
        lambda: store.exists("a.mp4"),
        lambda: store.delete("a.mp4"),
    ]
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        assert not isinstance(info.value, ObjectNotFound)
        assert isinstance(info.value.__cause__, EndpointConnectionError)
        message = str(info.value)
        assert "\n" not in message
        assert f"s3://{BUCKET}/{PREFIX}/a." in message
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == [], "no partial download may be left"


def test_s3_no_credentials(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    set_aws_env(monkeypatch, tmp_path, moto_endpoint)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError, match="credentials"):
        make_s3_store().put_bytes("a.json", b"{}")


class FailingDownloadClient:
    """Writes part of the object and then fails, as a dropped connection would."""

    def download_fileobj(self, bucket: str, key: str, fh: Any, Config: Any = None) -> None:
        from botocore.exceptions import ReadTimeoutError

        fh.write(b"partial data")
        raise ReadTimeoutError(endpoint_url="http://s3.example")


def test_s3_failed_download_leaves_no_partial_file(tmp_path: pathlib.Path) -> None:
    store = S3Storage("bucket", "p", client=FailingDownloadClient())
    dest = tmp_path / "out.mp4"
    with pytest.raises(StorageError, match="Read timeout"):
        store.download_to("a.mp4", dest)
    assert list(tmp_path.iterdir()) == []

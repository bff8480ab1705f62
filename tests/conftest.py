"""Fixtures: apps on SQLite or on the real PostgreSQL + Redis, and generated videos.

Integration fixtures talk to the servers named by TEST_DATABASE_URL (default: the local
PostgreSQL's ``test`` database, used only to create a scratch database) and TEST_REDIS_URL.
When those servers are down the integration tests are skipped, unless REQUIRE_SERVICES=1
(CI sets it), in which case they fail.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask
from flask.testing import FlaskClient
from moto.server import ThreadedMotoServer
from redis import Redis
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from tests.videos import make_testsrc, make_video
from webapp import create_app
from webapp.config import normalise_database_url

REPO = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
S3_BUCKET = "video-jobs-test"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointed at ``database_url``, as `alembic` on the command line."""
    config = Config(str(REPO / "alembic.ini"))
    url = normalise_database_url(database_url)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is unreachable: {exc}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    """The embedded-defaults app: SQLite, local storage, the in-process queue."""
    db_url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    command.upgrade(alembic_config(db_url), "head")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "STORAGE_URL": str(tmp_path / "storage"),
            "REDIS_URL": None,
        }
    )
    yield app
    with app.app_context():
        from webapp.extensions import db

        db.engine.dispose()


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it whatever happens."""
    admin = sa.create_engine(
        normalise_database_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT"
    )
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        _service_missing("PostgreSQL", exc)
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A scratch PostgreSQL database migrated to head, shared by the session."""
    with scratch_database("video_jobs_test") as url:
        command.upgrade(alembic_config(url), "head")
        yield url


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (migrations start from nothing)."""
    with scratch_database("video_jobs_empty") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis, checked once; each test uses its own queue name instead of flushing."""
    try:
        Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        _service_missing("Redis", exc)
    return TEST_REDIS_URL


@pytest.fixture
def pg_app(postgres_database: str, redis_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The production shape: PostgreSQL, Redis/RQ with a queue of its own, local storage."""
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(postgres_database),
        "REDIS_URL": redis_url,
        "QUEUE_NAME": f"test_{uuid.uuid4().hex[:10]}",
        "STORAGE_URL": str(tmp_path / "storage"),
    }
    app = create_app(config)
    yield app
    from webapp.extensions import db

    with app.app_context():
        db.session.execute(sa.text("TRUNCATE jobs CASCADE"))
        db.session.commit()
        db.engine.dispose()
    queue = app.extensions["video_queue"]
    queue.rq_queue().connection.close()


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated videos shared by the session."""
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def video_30(video_dir: Path) -> Path:
    """30 frames, 64x48, 30 fps, grey level rising with the frame index."""
    return make_video(video_dir / "levels_30.mp4", n_frames=30)


def submit_video(client: FlaskClient, video: Path, **fields: str) -> TestResponse:
    """POST a video to /video/submit, encoding the body in memory.

    The test client would spool a large body to a temporary file that it never closes.
    """
    upload = FileStorage(io.BytesIO(video.read_bytes()), filename="clip.mp4")
    boundary, body = encode_multipart({"file": upload, **fields})
    content_type = f"multipart/form-data; boundary={boundary}"
    return client.post("/video/submit", data=body, content_type=content_type)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Run a real moto S3 server on a free local port for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        admin = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        admin.create_bucket(Bucket=S3_BUCKET)
        yield endpoint
    finally:
        server.stop()


def set_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str) -> None:
    """Point boto3 at ``endpoint`` through env vars only, isolated from the host's AWS config."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    set_aws_env(monkeypatch, tmp_path, moto_endpoint)
    return moto_endpoint


@pytest.fixture(scope="session")
def long_video_720p(video_dir: Path) -> Path:
    """1200 frames of ffmpeg's moving test pattern at 1280x720: a job that takes a while."""
    return make_testsrc(video_dir / "testsrc_720p_40s.mp4", seconds=40, width=1280, height=720)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser of a test module saves the files it downloads."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    """One headless Chromium per test module (fails in CI, skips elsewhere, when missing)."""
    from tests.browser import start_chromium

    chrome = start_chromium(tmp_path_factory.mktemp("chromium-profile"), downloads)
    try:
        yield chrome
    finally:
        chrome.quit()

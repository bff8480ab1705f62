"""Form checks and configuration parsing, without any server."""

from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import BadRequest

from webapp.config import config_from_env, normalise_database_url
from webapp.uploads import is_iso_bmff, parse_submission

MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"
IDS = {"frame_stats", "exposure"}


def _files(data: bytes) -> MultiDict:
    return MultiDict({"file": FileStorage(io.BytesIO(data), filename="v.mp4")})


def test_valid_submission_is_parsed_and_stream_rewound() -> None:
    sub = parse_submission(
        {"pipeline_id": "exposure", "frame_stride": "3", "max_frames": "4"},
        _files(MP4_HEAD + b"rest"),
        IDS,
        "frame_stats",
    )
    assert (sub.pipeline_id, sub.frame_stride, sub.max_frames) == ("exposure", 3, 4)
    assert sub.stream.read() == MP4_HEAD + b"rest"


def test_defaults_for_optional_fields() -> None:
    sub = parse_submission({}, _files(MP4_HEAD), IDS, "exposure")
    assert (sub.pipeline_id, sub.frame_stride, sub.max_frames) == ("exposure", 1, None)
    blank = parse_submission({"pipeline_id": " "}, _files(MP4_HEAD), IDS, "exposure")
    assert blank.pipeline_id == "exposure"


@pytest.mark.parametrize(
    ("form", "data", "message"),
    [
        ({"pipeline_id": "frame_stats"}, None, "missing 'file'"),
        ({"pipeline_id": "frame_stats"}, b"", "empty"),
        ({"pipeline_id": "frame_stats"}, b"GIF89a......", "not an MP4"),
        ({"pipeline_id": "frame_stats"}, b"\x00\x00\x00\x20moov", "not an MP4"),
        ({"pipeline_id": "nope"}, MP4_HEAD, "unknown pipeline_id"),
        ({"pipeline_id": "exposure", "frame_stride": "0"}, MP4_HEAD, "frame_stride"),
        ({"pipeline_id": "exposure", "frame_stride": "-2"}, MP4_HEAD, "frame_stride"),
        ({"pipeline_id": "exposure", "frame_stride": "1.5"}, MP4_HEAD, "frame_stride"),
        ({"pipeline_id": "exposure", "frame_stride": "abc"}, MP4_HEAD, "frame_stride"),
        ({"pipeline_id": "exposure", "frame_stride": "100001"}, MP4_HEAD, "frame_stride"),
        ({"pipeline_id": "exposure", "max_frames": "0"}, MP4_HEAD, "max_frames"),
        ({"pipeline_id": "exposure", "max_frames": "9" * 30}, MP4_HEAD, "max_frames"),
    ],
)
def test_bad_submissions_are_rejected_with_a_reason(
    form: dict[str, str], data: bytes | None, message: str
) -> None:
    files = MultiDict() if data is None else _files(data)
    with pytest.raises(BadRequest, match=message):
        parse_submission(form, files, IDS, "frame_stats")


def test_iso_bmff_signature() -> None:
    assert is_iso_bmff(MP4_HEAD)
    assert not is_iso_bmff(b"\x00\x00\x00\x20free")
    assert not is_iso_bmff(b"ftyp")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg2://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_config_defaults_run_with_nothing_installed() -> None:
    config = config_from_env({})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:////")
    assert config["REDIS_URL"] is None
    assert config["MAX_UPLOAD_MB"] == 1024
    assert config["JOB_TIMEOUT"] == 3600


def test_config_reads_the_environment() -> None:
    config = config_from_env(
        {
            "DATABASE_URL": "postgres://x@y/z",
            "REDIS_URL": "redis://r:6379/1",
            "STORAGE_URL": "s3://bucket/p",
            "MAX_UPLOAD_MB": "5",
            "JOB_TIMEOUT": "60",
        }
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://x@y/z"
    assert config["MAX_UPLOAD_MB"] == 5
    assert (config["REDIS_URL"], config["STORAGE_URL"], config["JOB_TIMEOUT"]) == (
        "redis://r:6379/1",
        "s3://bucket/p",
        60,
    )


@pytest.mark.parametrize("name", ["MAX_UPLOAD_MB", "JOB_TIMEOUT"])
@pytest.mark.parametrize("value", ["0", "ten", "-5"])
def test_bad_numbers_in_the_environment_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        config_from_env({name: value})


def test_sqlite_folder_is_created_for_a_fresh_clone(tmp_path) -> None:
    from webapp.config import ensure_sqlite_directory

    ensure_sqlite_directory(f"sqlite:///{tmp_path}/new/dir/db.sqlite3")
    assert (tmp_path / "new" / "dir").is_dir()
    ensure_sqlite_directory("sqlite:///:memory:")

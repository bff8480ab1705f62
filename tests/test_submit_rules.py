"""Submit and lookup rules: unknown fields, limits, canonical ids, tokens, Idempotency-Key."""

from __future__ import annotations

import io
import stat
import threading
import uuid
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import submit_video
from webapp import create_app

TOKEN_A, TOKEN_B = "a" * 20 + "-token", "b" * 20 + "-token"


def _no_queue(app: Flask) -> None:
    app.extensions["video_queue"].enqueue = lambda job_id: None


def _post(client, fields: dict, headers: dict | None = None):
    boundary, body = encode_multipart(fields)
    return client.post(
        "/video/submit",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers or {},
    )


def _clip(video: Path) -> FileStorage:
    return FileStorage(io.BytesIO(video.read_bytes()), filename="clip.mp4")


def test_unknown_form_field_is_400_naming_it(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    response = _post(client, {"file": _clip(video_30), "Pipeline_id": "exposure"})
    assert response.status_code == 400
    assert "'Pipeline_id'" in response.json["detail"]
    assert "pipeline_id" in response.json["detail"] and "frame_stride" in response.json["detail"]


def test_oversized_form_field_and_too_many_parts_say_so(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    # The oversized parts come first: werkzeug leaves an already-started file part unclosed.
    big = _post(client, {"pipeline_id": "x" * 600_000, "file": _clip(video_30)})
    assert big.status_code == 413 and "form field" in big.json["detail"]
    assert "MB limit" not in big.json["detail"]
    many = _post(client, {**{f"f{i}": "1" for i in range(1100)}, "file": _clip(video_30)})
    assert many.status_code == 413 and "more than 1000 parts" in many.json["detail"]


@pytest.mark.parametrize("form", ["upper", "braces", "urn", "hex"])
def test_only_canonical_job_ids_are_found(sqlite_app: Flask, video_30: Path, form: str) -> None:
    client = sqlite_app.test_client()
    _no_queue(sqlite_app)
    job_id = submit_video(client, video_30).json["job_id"]
    spelled = {
        "upper": job_id.upper(),
        "braces": "{" + job_id + "}",
        "urn": "urn:uuid:" + job_id,
        "hex": job_id.replace("-", ""),
    }[form]
    assert client.get(f"/video/status/{job_id}").status_code == 200
    response = client.get(f"/video/status/{spelled}")
    assert response.status_code == 404 and "lowercase 8-4-4-4-12" in response.json["detail"]


def test_404_echo_is_bounded(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get("/video/status/" + "-" * 5000)
    assert response.status_code == 404 and len(response.json["detail"]) < 200


def test_stored_files_are_private(sqlite_app: Flask, video_30: Path) -> None:
    _no_queue(sqlite_app)
    submit_video(sqlite_app.test_client(), video_30)
    root = Path(sqlite_app.config["STORAGE_URL"])
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) for p in root.iterdir()] == [0o600]


def test_storage_file_mode_can_be_opened_up(sqlite_app: Flask, video_30: Path, tmp_path) -> None:
    app = create_app(
        {**sqlite_app.config, "STORAGE_URL": str(tmp_path / "shared"), "STORAGE_FILE_MODE": 0o640}
    )
    _no_queue(app)
    submit_video(app.test_client(), video_30)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "shared").iterdir()] == [0o640]
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o750


def test_submit_is_202_with_location(sqlite_app: Flask, video_30: Path) -> None:
    _no_queue(sqlite_app)
    response = submit_video(sqlite_app.test_client(), video_30)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/video/status/{response.json['job_id']}"


def test_health_and_readiness(sqlite_app: Flask, tmp_path: Path) -> None:
    client = sqlite_app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {
        "database": "ok",
        "queue": "ok",
        "storage": "ok",
    }
    broken = create_app(
        {
            **sqlite_app.config,
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }
    ).test_client()
    assert broken.get("/healthz").status_code == 200
    not_ready = broken.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.headers["Retry-After"]
    assert not_ready.json["checks"] == {
        "database": "unavailable",
        "queue": "unavailable",
        "storage": "ok",
    }
    assert "database" in not_ready.json["detail"]


def test_503_carries_retry_after(tmp_path: Path, video_30: Path) -> None:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "STORAGE_URL": str(tmp_path / "s"),
            "REDIS_URL": None,
        }
    )
    response = app.test_client().get(f"/video/status/{uuid.uuid4()}")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


# --------------------------------------------------------------------------- tokens


@pytest.fixture
def token_app(sqlite_app: Flask) -> Flask:
    app = create_app({**sqlite_app.config, "API_TOKENS": (TOKEN_A, TOKEN_B)})
    _no_queue(app)
    return app


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_guard_video_routes_and_jobs(token_app: Flask, video_30: Path) -> None:
    client = token_app.test_client()
    for headers in ({}, _bearer("wrong" * 5), {"Authorization": f"Basic {TOKEN_A}"}):
        response = client.get("/video/pipelines", headers=headers)
        assert response.status_code == 401 and "Bearer" in response.json["detail"]
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    submitted = _post(client, {"file": _clip(video_30)}, _bearer(TOKEN_A))
    assert submitted.status_code == 202
    job_id = submitted.json["job_id"]
    assert client.get(f"/video/status/{job_id}", headers=_bearer(TOKEN_A)).status_code == 200
    other = client.get(f"/video/status/{job_id}", headers=_bearer(TOKEN_B))
    assert other.status_code == 404 and other.json["detail"] == f"no job {job_id}"
    assert client.get(f"/video/results/{job_id}", headers=_bearer(TOKEN_B)).status_code == 404


def test_unset_tokens_leave_the_service_open(sqlite_app: Flask) -> None:
    assert sqlite_app.test_client().get("/video/pipelines").status_code == 200


# --------------------------------------------------------------------------- Idempotency-Key


def test_idempotency_key_replays_or_conflicts(sqlite_app: Flask, video_30: Path, tmp_path) -> None:
    _no_queue(sqlite_app)
    client = sqlite_app.test_client()
    key = {"Idempotency-Key": "order-42"}
    first = _post(client, {"file": _clip(video_30), "max_frames": "3"}, key)
    again = _post(client, {"file": _clip(video_30), "max_frames": "3"}, key)
    assert first.status_code == again.status_code == 202
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    storage = Path(sqlite_app.config["STORAGE_URL"])
    assert sorted(p.name for p in storage.iterdir()) == [f"{first.json['job_id']}.mp4"]
    other_params = _post(client, {"file": _clip(video_30), "max_frames": "4"}, key)
    assert other_params.status_code == 409 and "Idempotency-Key" in other_params.json["detail"]
    other_file = tmp_path / "other.mp4"
    other_file.write_bytes(video_30.read_bytes() + b"\0")
    assert _post(client, {"file": _clip(other_file), "max_frames": "3"}, key).status_code == 409
    assert len(list(storage.iterdir())) == 1
    bad = _post(client, {"file": _clip(video_30)}, {"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400


def test_idempotency_key_race_creates_one_job(pg_app: Flask, video_30: Path) -> None:
    """Eight concurrent submits with one key on PostgreSQL: one job, one answer, no 5xx."""
    _no_queue(pg_app)
    answers: list[tuple[int, dict]] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        client = pg_app.test_client()
        barrier.wait()
        response = _post(client, {"file": _clip(video_30)}, {"Idempotency-Key": "race-1"})
        answers.append((response.status_code, response.json))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {code for code, _ in answers} == {202}
    assert len({body["job_id"] for _, body in answers}) == 1
    storage = Path(pg_app.config["STORAGE_URL"])
    assert len(list(storage.iterdir())) == 1

"""Direct uploads to S3 (a local moto server): presigned POST, then submit the upload_id."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import requests
from flask import Flask
from rq import SimpleWorker

from tests.conftest import S3_BUCKET
from webapp import create_app


def _s3_app(pg_app: Flask, **extra: Any) -> Flask:
    return create_app({**pg_app.config, "STORAGE_URL": f"s3://{S3_BUCKET}/direct", **extra})


def _upload(presigned: dict[str, Any], data: bytes) -> requests.Response:
    files = {presigned["file_field"]: ("clip.mp4", data)}
    return requests.post(presigned["url"], data=presigned["fields"], files=files, timeout=30)


def test_presigned_upload_then_submit_runs_the_job(
    pg_app: Flask, s3_env: str, video_30: Path
) -> None:
    app = _s3_app(pg_app)
    client = app.test_client()
    presigned = client.post("/video/uploads").json
    assert presigned["method"] == "POST" and presigned["url"].startswith(s3_env)
    upload_id = presigned["upload_id"]
    assert presigned["fields"]["key"] == f"direct/{upload_id}.mp4"
    assert _upload(presigned, video_30.read_bytes()).status_code in (200, 204)

    response = client.post("/video/submit", data={"upload_id": upload_id, "max_frames": "3"})
    assert response.status_code == 202 and response.json == {"job_id": upload_id}
    again = client.post("/video/submit", data={"upload_id": upload_id})
    assert again.status_code == 409

    queue = app.extensions["video_queue"].rq_queue()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    results = client.get(f"/video/results/{upload_id}").json["results"]
    assert [r["frame_index"] for r in results] == [0, 1, 2]
    queue.connection.close()


def test_bad_or_missing_uploads_are_refused_before_any_row(
    pg_app: Flask, s3_env: str, video_30: Path
) -> None:
    app = _s3_app(pg_app, MAX_UPLOAD_MB=1)
    client = app.test_client()
    missing = client.post("/video/uploads").json["upload_id"]
    response = client.post("/video/submit", data={"upload_id": missing})
    assert response.status_code == 400 and "presigned URL first" in response.json["detail"]

    not_video = client.post("/video/uploads").json
    _upload(not_video, b"GIF89a" + b"\0" * 100)
    response = client.post("/video/submit", data={"upload_id": not_video["upload_id"]})
    assert response.status_code == 400 and "not an MP4" in response.json["detail"]

    bucket = boto3.session.Session().client("s3")
    too_big = client.post("/video/uploads").json
    bucket.put_object(
        Bucket=S3_BUCKET,
        Key=too_big["fields"]["key"],
        Body=video_30.read_bytes() + b"\0" * (1 << 20),
    )
    response = client.post("/video/submit", data={"upload_id": too_big["upload_id"]})
    assert response.status_code == 413
    listed = bucket.list_objects_v2(Bucket=S3_BUCKET, Prefix="direct/").get("Contents", [])
    for job_id in (missing, not_video["upload_id"], too_big["upload_id"]):
        assert f"direct/{job_id}.mp4" not in [o["Key"] for o in listed], "bad uploads deleted"
        assert client.get(f"/video/status/{job_id}").status_code == 404

    both = client.post(
        "/video/submit", data={"upload_id": missing, "file": (BytesIO(b"x"), "a.mp4")}
    )
    assert both.status_code == 400 and "not both" in both.json["detail"]


def test_local_storage_has_no_direct_uploads(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().post("/video/uploads")
    assert response.status_code == 400 and "S3" in response.json["detail"]

"""The whole service on S3 storage over HTTP (a local moto server), PostgreSQL and RQ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from flask import Flask
from rq import SimpleWorker

from tests.conftest import S3_BUCKET, submit_video
from webapp import create_app
from webapp.extensions import db


def test_upload_and_results_live_in_the_bucket(pg_app: Flask, s3_env: str, video_30: Path) -> None:
    config: dict[str, Any] = {**pg_app.config, "STORAGE_URL": f"s3://{S3_BUCKET}/e2e"}
    app = create_app(config)
    client = app.test_client()
    job_id = submit_video(client, video_30, pipeline_id="exposure", frame_stride="10").json[
        "job_id"
    ]
    bucket = boto3.session.Session().client("s3")
    listed = bucket.list_objects_v2(Bucket=S3_BUCKET, Prefix="e2e/")
    assert [o["Key"] for o in listed["Contents"]] == [f"e2e/{job_id}.mp4"]

    queue = app.extensions["video_queue"].rq_queue()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)

    assert client.get(f"/video/status/{job_id}").json["status"] == "completed"
    results = client.get(f"/video/results/{job_id}").json["results"]
    assert [r["frame_index"] for r in results] == [0, 10, 20]
    listed = bucket.list_objects_v2(Bucket=S3_BUCKET, Prefix="e2e/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"e2e/{job_id}_results.index",
        f"e2e/{job_id}_results.json",
    ]
    queue.connection.close()
    with app.app_context():
        db.engine.dispose()

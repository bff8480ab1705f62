"""Results served around the stored bytes: gzip, pages, ETags, and the status conventions."""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import submit_video
from webapp.models import JobStatus, transition
from webapp.results import write_results
from webapp.storage import CHUNK_SIZE

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def frames(n: int) -> list[dict]:
    return [
        {"frame_index": i, "result": {"timestamp_ms": i * 33.333, "label": f"é{i}", "v": [i, 0.5]}}
        for i in range(n)
    ]


def completed_job(app: Flask, client: FlaskClient, video: Path, n_frames: int) -> str:
    """A job row completed with ``n_frames`` synthetic results, written by write_results."""
    queue = app.extensions["video_queue"]
    original, queue.enqueue = queue.enqueue, lambda job_id: None
    try:
        job_id = submit_video(client, video).json["job_id"]
    finally:
        queue.enqueue = original
    with app.app_context():
        storage = app.extensions["video_storage"]
        key = write_results(storage, job_id, iter(frames(n_frames)))
        transition(uuid.UUID(job_id), [JobStatus.PENDING], JobStatus.RUNNING)
        transition(uuid.UUID(job_id), [JobStatus.RUNNING], JobStatus.COMPLETED, output_path=key)
    return job_id


@pytest.mark.parametrize("n_frames", [0, 1, 7])
def test_gzip_and_plain_decode_to_the_same_json(
    sqlite_app: Flask, video_30: Path, n_frames: int
) -> None:
    client = sqlite_app.test_client()
    job_id = completed_job(sqlite_app, client, video_30, n_frames)
    plain = client.get(f"/video/results/{job_id}")
    packed = client.get(f"/video/results/{job_id}", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    body = json.loads(plain.data)
    assert list(body) == ["job_id", "results", "created_at", "updated_at"]
    assert body["results"] == frames(n_frames)
    assert json.loads(gzip.decompress(packed.data)) == body
    assert plain.headers["ETag"] != packed.headers["ETag"]


def test_pages_follow_link_next_and_add_up_to_the_whole(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    job_id = completed_job(sqlite_app, client, video_30, 25)
    whole = client.get(f"/video/results/{job_id}").json
    url, pages = f"/video/results/{job_id}?offset=0&limit=10", []
    while url:
        response = client.get(url)
        assert list(response.json) == ["job_id", "results", "created_at", "updated_at"]
        pages.append(response.json["results"])
        link = response.headers.get("Link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [f for p in pages for f in p] == whole["results"]
    packed = client.get(
        f"/video/results/{job_id}?offset=20&limit=3", headers={"Accept-Encoding": "gzip"}
    )
    assert json.loads(gzip.decompress(packed.data))["results"] == whole["results"][20:23]
    beyond = client.get(f"/video/results/{job_id}?offset=99").json
    assert beyond["results"] == [] and beyond["job_id"] == job_id


@pytest.mark.parametrize("query", ["offset=-1", "limit=0", "limit=10001", "offset=x", "limit=1.5"])
def test_bad_page_parameters_are_400(sqlite_app: Flask, video_30: Path, query: str) -> None:
    client = sqlite_app.test_client()
    job_id = completed_job(sqlite_app, client, video_30, 3)
    response = client.get(f"/video/results/{job_id}?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.json["detail"]


def test_etags_give_304_and_pending_carries_retry_after(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    job_id = completed_job(sqlite_app, client, video_30, 4)
    for path in (f"/video/status/{job_id}", f"/video/results/{job_id}"):
        first = client.get(path)
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    assert "Retry-After" not in client.get(f"/video/status/{job_id}").headers

    queue = sqlite_app.extensions["video_queue"]
    queue.enqueue = lambda job_id: None
    pending = submit_video(client, video_30).json["job_id"]
    status = client.get(f"/video/status/{pending}")
    assert status.headers["Retry-After"] == str(sqlite_app.config["POLL_INTERVAL"])
    results = client.get(f"/video/results/{pending}")
    assert results.status_code == 404 and results.headers["Retry-After"]
    with sqlite_app.app_context():
        transition(uuid.UUID(pending), [JobStatus.PENDING], JobStatus.RUNNING)
    changed = client.get(
        f"/video/status/{pending}", headers={"If-None-Match": status.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.json["status"] == "running"


def test_timestamps_have_one_format(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    job_id = completed_job(sqlite_app, client, video_30, 1)
    for body in (
        client.get(f"/video/status/{job_id}").json,
        client.get(f"/video/results/{job_id}").json,
    ):
        assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["updated_at"])


def test_pg_timestamps_have_the_same_format(pg_app: Flask, video_30: Path) -> None:
    client = pg_app.test_client()
    job_id = submit_video(client, video_30).json["job_id"]
    status = client.get(f"/video/status/{job_id}").json
    assert TIMESTAMP.match(status["created_at"]) and TIMESTAMP.match(status["updated_at"])


def _streaming_peak(client: FlaskClient, job_id: str, headers: dict) -> tuple[int, int]:
    tracemalloc.start()
    try:
        response = client.get(f"/video/results/{job_id}", headers=headers, buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        return size, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_serving_memory_does_not_grow_with_result_size(sqlite_app: Flask, video_30: Path) -> None:
    client = sqlite_app.test_client()
    small = completed_job(sqlite_app, client, video_30, 10_000)
    large = completed_job(sqlite_app, client, video_30, 100_000)
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        small_size, small_peak = _streaming_peak(client, small, headers)
        large_size, large_peak = _streaming_peak(client, large, headers)
        # Bounded by the 1 MiB read chunk, not by the 10 MB of results.
        assert large_size > 8 * small_size
        assert large_peak < 4 * CHUNK_SIZE, (small_peak, large_peak)


def test_a_pipeline_failing_midway_leaves_nothing_stored(tmp_path: Path) -> None:
    from webapp.storage import LocalStorage

    storage = LocalStorage(tmp_path / "store")
    closed = []

    def failing() -> Iterator[dict]:
        try:
            yield from frames(3)
            raise RuntimeError("decoder died")
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="decoder died"):
        write_results(storage, "some-job", failing())
    assert closed == [True]
    assert not (tmp_path / "store").exists() or list((tmp_path / "store").iterdir()) == []

"""HTTP replies with the conventions pollers expect: ETag, 304, Retry-After, gzip, Link."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, json, request, url_for

from webapp import results as stored_results
from webapp.services import completed_job, get_storage, timestamp

_POLLED = ("pending", "running")


def _not_modified(etag: str) -> bool:
    return etag in request.if_none_match or "*" in request.if_none_match


def conditional_json(body: dict[str, Any], status: int = 200) -> Response:
    """JSON with a strong ETag of its bytes; 304 when the client already has them."""
    data = json.dumps(body).encode() + b"\n"
    etag = hashlib.sha256(data).hexdigest()[:32]
    response = Response(data, status=status, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    if body.get("status") in _POLLED:
        response.headers["Retry-After"] = str(current_app.config["POLL_INTERVAL"])
    if _not_modified(etag):
        response.status_code, response.data = 304, b""
    return response


def accepts_gzip() -> bool:
    """Whether the request's Accept-Encoding allows gzip."""
    return request.accept_encodings["gzip"] > 0


def results(job_id: str, page: tuple[int, int] | None, gzip: bool) -> Response:
    """A completed job's results, streamed around the stored bytes; a page when asked."""
    job = completed_job(job_id)
    created, updated = timestamp(job.created_at), timestamp(job.updated_at)
    encoding = "gzip" if gzip else "identity"
    tag_source = f"{job.job_id}|{job.updated_at.isoformat()}|{page}|{encoding}"
    etag = hashlib.sha256(tag_source.encode()).hexdigest()[:32]
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
    if _not_modified(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    storage = get_storage()
    stored = stored_results.open_results(storage, job.job_id)
    if stored is None:  # written before the index existed: parse, as it was then
        frames = stored_results.legacy_document(storage, job.output_path or "")
        page = page or (0, max(len(frames), 1))
        body = {"job_id": str(job.job_id), "results": frames[page[0] : sum(page)]}
        chunks: Any = [json.dumps({**body, "created_at": created, "updated_at": updated})]
        total = len(frames)
    elif page is None:
        chunks, length = stored_results.stream_whole(storage, stored, created, updated, gzip)
        headers["Content-Length"] = str(length)
        total, gzip = stored.frame_count, False  # already compressed when stored
        if encoding == "gzip":
            headers["Content-Encoding"] = "gzip"
    else:
        chunks = stored_results.stream_page(
            storage, stored, str(job.job_id), *page, created, updated
        )
        total = stored.frame_count
    if gzip:
        chunks = stored_results.gzip_stream(c.encode() if isinstance(c, str) else c for c in chunks)
        headers["Content-Encoding"] = "gzip"
    if page and sum(page) < total:
        nxt = url_for(".results", job_id=job_id, offset=sum(page), limit=page[1])
        headers["Link"] = f'<{nxt}>; rel="next"'
    response = Response(chunks, mimetype="application/json", headers=headers)
    response.set_etag(etag)
    return response

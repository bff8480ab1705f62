"""HTTP routes: parse, call one service function, return JSON."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from webapp import auth, replies, services

bp = Blueprint("video", __name__, url_prefix="/video")
bp.before_request(auth.authenticate)


@bp.post("/submit")
def submit() -> Response:
    """Accept an MP4 (or a direct upload's id) and a pipeline id; answer 202 with the job id."""
    job_id, replayed = services.submit_job(
        request.form, request.files, request.headers.get("Idempotency-Key")
    )
    response = jsonify(job_id=str(job_id))
    response.status_code = 202
    response.headers["Location"] = url_for(".status", job_id=str(job_id))
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/uploads")
def uploads() -> Response:
    """Presign a direct upload to S3; submit its ``upload_id`` afterwards."""
    return jsonify(services.presign_upload())


@bp.get("/status/<job_id>")
def status(job_id: str) -> Response:
    """Report a job's status with coarse progress; ETag, 304 and Retry-After for pollers."""
    return replies.conditional_json(services.job_status(job_id))


@bp.get("/results/<job_id>")
def results(job_id: str) -> Response:
    """Return a completed job's per-frame results, whole or a page (``?offset=&limit=``)."""
    page = services.parse_page(request.args)
    return replies.results(job_id, page, replies.accepts_gzip())


@bp.get("/pipelines")
def pipelines() -> Response:
    """List the pipelines a client may submit and the default one."""
    return jsonify(services.list_pipelines())

"""HTTP routes: parse, call one service function, return JSON."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from webapp import services

bp = Blueprint("video", __name__, url_prefix="/video")


@bp.post("/submit")
def submit() -> Response:
    """Accept an MP4 and a pipeline id; answer at once with the new job id."""
    job_id = services.submit_job(request.form, request.files)
    return jsonify(job_id=str(job_id))


@bp.get("/status/<job_id>")
def status(job_id: str) -> Response:
    """Report a job's status with coarse progress."""
    return jsonify(services.job_status(job_id))


@bp.get("/results/<job_id>")
def results(job_id: str) -> Response:
    """Return a completed job's per-frame results."""
    return jsonify(services.job_results(job_id))


@bp.get("/pipelines")
def pipelines() -> Response:
    """List the pipelines a client may submit and the default one."""
    return jsonify(services.list_pipelines())

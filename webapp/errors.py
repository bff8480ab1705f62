"""One JSON error shape, ``{"detail": "..."}``, for every error the app can produce."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from webapp.storage import StorageError

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_UNAVAILABLE = 5


def _json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(detail=detail)
    response.status_code = status
    if status == ServiceUnavailable.code:
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    response.headers.update(headers or {})
    return response


def too_large_detail(exc: BaseException, limit_mb: int) -> str:
    """Say what was too large: the whole upload, one form field, or the number of parts."""
    whole = (
        f"the upload is larger than the {limit_mb} MB limit "
        "(MAX_UPLOAD_MB counts the whole request)"
    )
    if (request.content_length or 0) > limit_mb * 1024 * 1024:
        return whole
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame if tb else None
    where = frame.f_code.co_name if frame else ""
    parser = frame.f_locals.get("self") if frame else None
    if where == "next_event" and getattr(parser, "max_parts", None) is not None:
        return f"the form has more than {parser.max_parts} parts"
    if where in ("receive_data", "parse"):
        limit = request.max_form_memory_size
        return f"a form field other than 'file' is larger than {limit} bytes"
    return whole


def register_error_handlers(app: Flask) -> None:
    """Turn HTTP errors, outages of the database or storage, and bugs into JSON."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 413:
            return _json_error(413, too_large_detail(exc, app.config["MAX_UPLOAD_MB"]))
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return _json_error(exc.code or 500, exc.description or exc.name, headers)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> Response:
        log.error("database error: %s", exc.orig)
        detail = "the database is unavailable; try again shortly"
        return _json_error(ServiceUnavailable.code, detail)

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError) -> Response:
        log.error("storage error: %s", exc)
        return _json_error(
            ServiceUnavailable.code, "file storage is unavailable; try again shortly"
        )

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _json_error(InternalServerError.code, "internal server error")

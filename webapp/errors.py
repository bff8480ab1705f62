"""One JSON error shape, ``{"detail": "..."}``, for every error the app can produce."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from webapp.storage import StorageError

log = logging.getLogger(__name__)


def _json_error(status: int, detail: str) -> tuple[Response, int]:
    return jsonify(detail=detail), status


def register_error_handlers(app: Flask) -> None:
    """Turn HTTP errors, outages of the database or storage, and bugs into JSON."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        if exc.code == 413:
            limit = app.config["MAX_UPLOAD_MB"]
            return _json_error(413, f"the upload is larger than the {limit} MB limit")
        return _json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> tuple[Response, int]:
        log.error("database error: %s", exc.orig)
        detail = "the database is unavailable; try again shortly"
        return _json_error(ServiceUnavailable.code, detail)

    @app.errorhandler(StorageError)
    def storage_error(exc: StorageError) -> tuple[Response, int]:
        log.error("storage error: %s", exc)
        return _json_error(
            ServiceUnavailable.code, "file storage is unavailable; try again shortly"
        )

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return _json_error(InternalServerError.code, "internal server error")

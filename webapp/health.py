"""Health checks a platform can poll: ``/healthz`` (the process is up) and ``/readyz``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from webapp.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and answers; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """The database, the queue and the storage each answer; 503 naming the ones that do not."""
    checks = readiness()
    failing = [name for name, state in checks.items() if state != "ok"]
    if not failing:
        return jsonify(status="ready", checks=checks)
    response = jsonify(detail=f"not ready: {', '.join(failing)} not answering", checks=checks)
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


def _check(name: str, probe: Any) -> str:
    try:
        probe()
    except Exception as exc:  # a readiness probe reports failures instead of raising them
        log.warning("readyz: %s: %s", name, " ".join(str(exc).split())[:300])
        return "unavailable"
    return "ok"


def _database() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.remove()


def _storage() -> None:
    storage = current_app.extensions["video_storage"]
    root = getattr(storage, "root", None)
    if root is not None and root.exists() and not root.is_dir():
        raise OSError(f"{root} is not a folder")
    storage.exists("readyz-probe")


def _queue() -> None:
    rq_queue = getattr(current_app.extensions["video_queue"], "rq_queue", None)
    if rq_queue is not None:  # the in-process queue lives in this process: nothing to ask
        rq_queue().connection.ping()


def readiness() -> dict[str, str]:
    """Each dependency's state, cheaply: one SELECT 1, one Redis PING, one storage lookup."""
    return {
        "database": _check("database", _database),
        "queue": _check("queue", _queue),
        "storage": _check("storage", _storage),
    }

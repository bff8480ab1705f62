"""The web tier: ``create_app`` builds the Flask app; importing this package builds nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from webapp.config import check_queue_mode, config_from_env_or_exit, ensure_sqlite_directory


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding any key."""
    from webapp import health, page, routes
    from webapp.cli import register_cli
    from webapp.errors import register_error_handlers
    from webapp.extensions import db
    from webapp.queueing import build_queue
    from webapp.storage import storage_from_url

    app = Flask(__name__)
    app.config.from_mapping(config_from_env_or_exit())
    if config:
        app.config.from_mapping(config)
    check_queue_mode(app.config)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    app.json.sort_keys = False
    level = app.config["LOG_LEVEL"]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("webapp", "jobs", "pipelines"):
        logging.getLogger(name).setLevel(level)
    ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    app.extensions["video_storage"] = storage_from_url(
        app.config["STORAGE_URL"], app.config["STORAGE_FILE_MODE"]
    )
    app.extensions["video_queue"] = build_queue(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(health.bp)
    register_cli(app)
    register_error_handlers(app)
    return app

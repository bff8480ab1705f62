"""The browser page at ``/``: one template and its static files, nothing fetched elsewhere."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("page", __name__)


@bp.get("/")
def index() -> str:
    """Serve the upload page; everything it shows comes from the JSON API by polling."""
    return render_template("index.html")

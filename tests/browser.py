"""Helpers for tests that drive the page: a real server in a thread and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.videos import FFMPEG

#: Flags that let Chromium run here: no sandbox (root), no GPU, and no network of its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


#: Debian's name first; the others are what hosted CI images ship.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@contextmanager
def serve_in_thread(app: Flask) -> Iterator[str]:
    """Serve ``app`` with werkzeug on a free loopback port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def browser_required() -> bool:
    """CI must run the browser tests: a missing browser fails there instead of skipping."""
    return os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"


def chromium_paths() -> tuple[str, str]:
    """Debian's chromium and chromium-driver, or skip (fail in CI) when they are missing."""
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which("chromedriver") or shutil.which(
        "chromedriver", path=os.environ.get("CHROMEWEBDRIVER")
    )
    if browser and driver:
        return browser, driver
    message = "headless Chromium is missing: apt-get install -y chromium chromium-driver"
    if browser_required():
        pytest.fail(message)
    pytest.skip(message)


def make_flagged_video(path: Path) -> Path:
    """4 s at 30 fps, 320x240: ffmpeg's moving pattern, 0.4 s of black, then a dimmer pattern."""
    graph = (
        "testsrc2=size=320x240:rate=30:duration=2[a];"
        "color=black:size=320x240:rate=30:duration=0.4[b];"
        "testsrc2=size=320x240:rate=30:duration=1.6,eq=brightness=0.25:contrast=0.6[c];"
        "[a][b][c]concat=n=3[v]"
    )
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-filter_complex", graph]
    codec = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run([*cmd, "-map", "[v]", *codec, str(path)], check=True)
    return path

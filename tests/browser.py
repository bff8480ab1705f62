"""Helpers for tests that drive the page: a real server in a thread and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
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
def serve_in_thread(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` with werkzeug on a loopback port (a free one by default); yield its URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
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


def start_chromium(profile: Path, downloads: Path) -> Any:
    """Headless Chromium under chromedriver, with a fresh profile and a download folder."""
    browser, chromedriver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1200,1000")
    prefs = {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    chrome = webdriver.Chrome(options=options, service=Service(chromedriver))
    chrome.set_page_load_timeout(30)
    return chrome


COMPLETED_CARD = "#job-card[data-status='completed'] #plot svg.chart"


def wait(driver: Any, condition: Any, timeout: float = 30) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def open_page(driver: Any, server: str) -> None:
    driver.get(server + "/")
    wait(driver, lambda d: d.find_element(By.ID, "submit-button").is_enabled(), 10)


def upload(driver: Any, video: Path, stride: str = "") -> None:
    driver.find_element(By.ID, "file-input").send_keys(str(video))
    if stride:
        field = driver.find_element(By.ID, "stride-input")
        field.clear()
        field.send_keys(stride)
    driver.find_element(By.ID, "submit-button").click()


def card_job_id(driver: Any, previous: str | None = None) -> str:
    """The job id on the card once it shows a job other than ``previous``."""
    wait(driver, lambda d: d.find_element(By.ID, "job-card").get_attribute("data-job-id"))
    card = driver.find_element(By.ID, "job-card")
    wait(driver, lambda d: card.get_attribute("data-job-id") != previous)
    return card.get_attribute("data-job-id")

"""The page at ``/`` in a real headless Chromium, against a real server the test starts.

Set UI_SCREENSHOT_DIR to keep desktop and phone-width screenshots of a completed job
(``UI_SCREENSHOT_DIR=docs pytest tests/test_page_browser.py`` refreshes the README's).
"""

from __future__ import annotations

import csv
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import (
    COMPLETED_CARD,
    card_job_id,
    make_flagged_video,
    open_page,
    serve_in_thread,
    upload,
    wait,
)


@pytest.fixture
def server(sqlite_app: Flask) -> Iterator[str]:
    with serve_in_thread(sqlite_app) as url:
        yield url


@pytest.fixture(scope="module")
def flagged_video(video_dir: Path) -> Path:
    return make_flagged_video(video_dir / "flagged.mp4")


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def texts(driver: Any, selector: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def save_screenshots(driver: Any) -> None:
    folder = os.environ.get("UI_SCREENSHOT_DIR")
    if not folder:
        return
    for name, width in (("page-desktop.png", 1200), ("page-phone.png", 390)):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height + 40, 3200))
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.4)  # the charts redraw at the new width
        driver.save_screenshot(str(Path(folder) / name))
    driver.set_window_size(1200, 1000)


def test_upload_completes_with_plot_table_and_downloads(
    driver: Any, server: str, flagged_video: Path, downloads: Path
) -> None:
    open_page(driver, server)
    select = driver.find_element(By.ID, "pipeline-select")
    assert select.get_attribute("value") == "frame_stats"
    assert "sharpness" in driver.find_element(By.ID, "pipeline-description").text
    assert driver.find_element(By.ID, "jobs-empty").is_displayed()

    upload(driver, flagged_video, stride="2")
    job_id = card_job_id(driver)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, COMPLETED_CARD))
    results = api(f"{server}/video/results/{job_id}")["results"]
    assert len(results) == 60  # 120 frames, every second one

    card = driver.find_element(By.ID, "job-card")
    assert card.find_element(By.CSS_SELECTOR, ".badge").text == "COMPLETED"
    assert f"{server}/video/status/{job_id}" in texts(driver, "[data-curl='status']")[0]
    charts = [e.get_attribute("data-key") for e in card.find_elements(By.CSS_SELECTOR, "svg.chart")]
    assert charts[:3] == ["brightness", "contrast", "sharpness"]
    black = [r for r in results if r["result"]["is_black"]]
    assert black, "the video has black frames"
    marks = card.find_elements(
        By.CSS_SELECTOR, "svg.chart[data-key='brightness'] [data-flag='is_black']"
    )
    assert len(marks) == len(black)
    assert (
        f"is_black: {len(black)} frames marked"
        in card.find_element(By.CSS_SELECTOR, ".legend").text
    )

    rows = card.find_elements(By.CSS_SELECTOR, ".results-table tbody tr")
    assert len(rows) == 25
    first = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
    headers = texts(driver, ".results-table th")
    assert headers[:3] == ["frame_index", "timestamp_ms", "brightness"]
    assert first[0] == "0" and float(first[2]) == pytest.approx(results[0]["result"]["brightness"])
    assert driver.find_element(By.CSS_SELECTOR, ".pager-text").text == "frames 1 to 25 of 60"
    save_screenshots(driver)
    driver.find_element(By.XPATH, "//div[@class='pager']/button[text()='Next']").click()
    assert driver.find_element(By.CSS_SELECTOR, ".pager-text").text == "frames 26 to 50 of 60"
    second_page = card.find_elements(By.CSS_SELECTOR, ".results-table tbody tr td:first-child")
    assert second_page[0].text == str(results[25]["frame_index"])

    driver.find_element(By.CSS_SELECTOR, "button[data-download$='.csv']").click()
    csv_path = wait(driver, lambda d: next(downloads.glob(f"*{job_id[:8]}.csv"), None), 10)
    wait(driver, lambda d: csv_path.stat().st_size > 0, 5)
    driver.find_element(By.CSS_SELECTOR, "button[data-download$='.json']").click()
    json_path = wait(driver, lambda d: next(downloads.glob(f"*{job_id[:8]}.json"), None), 10)
    wait(driver, lambda d: json_path.stat().st_size > 0, 5)
    assert json.loads(json_path.read_text())["results"] == results
    table = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert len(table) == 60 and table[5]["frame_index"] == str(results[5]["frame_index"])
    assert float(table[5]["sharpness"]) == pytest.approx(results[5]["result"]["sharpness"])


def test_failed_job_bad_upload_reload_and_server_down(
    driver: Any, server: str, tmp_path: Path, sqlite_app: Flask
) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x17" * 5000)
    open_page(driver, server)
    upload(driver, corrupt)
    job_id = card_job_id(driver)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#job-card[data-status='failed']"))
    message = api(f"{server}/video/status/{job_id}")["error_message"]
    assert driver.find_element(By.CSS_SELECTOR, "#job-card .job-error").text == message

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("just some text, not a video")
    upload(driver, not_video)
    error = driver.find_element(By.ID, "form-error")
    wait(driver, lambda d: error.is_displayed())
    assert "HTTP 400" in error.text and "not an MP4/MOV video" in error.text

    sqlite_app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=1024 * 1024)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(2 * 1024 * 1024))
    upload(driver, big)
    wait(driver, lambda d: "too large" in error.text)
    assert "HTTP 413" not in error.text and "1 MB limit" in error.text

    driver.refresh()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#job-card[data-status='failed']"))
    items = driver.find_elements(By.CSS_SELECTOR, "#job-list .job-item")
    assert [i.get_attribute("data-job-id") for i in items] == [job_id]
    assert "FAILED" in items[0].text and "corrupt.mp4" in items[0].text
    assert not driver.find_element(By.ID, "jobs-empty").is_displayed()


def test_server_down_is_said_plainly(driver: Any, sqlite_app: Flask, flagged_video: Path) -> None:
    with serve_in_thread(sqlite_app) as url:
        open_page(driver, url)
    # Keyboard: Tab walks the form's controls in order, from the file picker on.
    driver.execute_script("document.getElementById('file-input').focus()")
    order = ["file-input"]
    for _ in range(4):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        order.append(driver.switch_to.active_element.get_attribute("id"))
    assert order == [
        "file-input", "pipeline-select", "stride-input", "max-frames-input", "submit-button",
    ]  # fmt: skip
    upload(driver, flagged_video)
    error = driver.find_element(By.ID, "form-error")
    wait(driver, lambda d: error.is_displayed())
    assert "cannot be reached" in error.text
    assert driver.find_element(By.ID, "submit-button").is_enabled()


# werkzeug's form parser drops (without closing) the temporary file of a body cut short;
# the garbage collector closes it, so that warning is expected here and nowhere else.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_upload_shows_bytes_sent_and_can_be_cancelled(
    driver: Any, server: str, tmp_path: Path, sqlite_app: Flask
) -> None:
    big = tmp_path / "slow.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(3 * 1024 * 1024))
    open_page(driver, server)
    driver.set_network_conditions(latency=5, upload_throughput=512 * 1024, download_throughput=0)
    try:
        upload(driver, big)
        bar = driver.find_element(By.ID, "upload-bar")
        wait(driver, lambda d: 5 < float(bar.get_attribute("value")) < 90, 10)
        assert " of 3.0 MB sent" in driver.find_element(By.ID, "upload-text").text
        driver.find_element(By.ID, "upload-cancel").click()
        error = driver.find_element(By.ID, "form-error")
        wait(driver, lambda d: error.is_displayed())
    finally:
        driver.delete_network_conditions()
    assert error.text == "Upload cancelled; nothing was submitted."
    assert not driver.find_element(By.ID, "upload-progress").is_displayed()
    assert driver.find_elements(By.CSS_SELECTOR, "#job-list .job-item") == []
    storage = Path(sqlite_app.config["STORAGE_URL"])
    assert not storage.exists() or list(storage.iterdir()) == []

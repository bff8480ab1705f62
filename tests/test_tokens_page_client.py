"""With API_TOKENS set, the page asks for a token once and keeps it; the client sends it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from selenium.webdriver.common.by import By

from tests.browser import COMPLETED_CARD, card_job_id, open_page, serve_in_thread, upload, wait
from webapp.client import main

TOKEN = "a-token-of-more-than-16-chars"


@pytest.fixture
def guarded(sqlite_app: Flask) -> Iterator[str]:
    sqlite_app.config["API_TOKENS"] = (TOKEN,)
    with serve_in_thread(sqlite_app) as url:
        yield url


def test_client_sends_the_token_from_the_option_or_the_environment(
    guarded: str, video_30: Path
) -> None:
    runner = CliRunner()
    refused = runner.invoke(main, ["pipelines", "--server", guarded])
    assert refused.exit_code == 3
    assert refused.stderr.startswith("error: HTTP 401: ") and "VIDEO_API_TOKEN" in refused.stderr
    wrong = runner.invoke(main, ["pipelines", "--server", guarded, "--token", "x" * 20])
    assert wrong.exit_code == 3 and "HTTP 401" in wrong.stderr
    submitted = runner.invoke(
        main, ["submit", str(video_30), "--wait", "--server", guarded, "--token", TOKEN]
    )
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    env = {"VIDEO_API_TOKEN": TOKEN, "VIDEO_API_URL": guarded}
    status = runner.invoke(main, ["status", job_id], env=env)
    assert status.exit_code == 0 and " completed " in status.stdout


def test_page_asks_for_the_token_once_and_keeps_it(
    driver: Any, guarded: str, video_30: Path
) -> None:
    driver.get(guarded + "/")
    dialog = driver.find_element(By.ID, "token-dialog")
    wait(driver, lambda d: dialog.is_displayed(), 10)
    driver.find_element(By.ID, "token-input").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "#token-form button[value='save']").click()
    wait(driver, lambda d: d.find_element(By.ID, "submit-button").is_enabled(), 10)
    upload(driver, video_30)
    job_id = card_job_id(driver)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, COMPLETED_CARD))
    curl = driver.find_element(By.CSS_SELECTOR, "[data-curl='status']").text
    assert '-H "Authorization: Bearer $VIDEO_API_TOKEN"' in curl and TOKEN not in curl

    open_page(driver, guarded)  # a reload: the token is kept, no second question
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, COMPLETED_CARD))
    assert not driver.find_element(By.ID, "token-dialog").is_displayed()
    assert driver.find_element(By.ID, "job-card").get_attribute("data-job-id") == job_id
    assert driver.find_element(By.ID, "forget-token").is_displayed()

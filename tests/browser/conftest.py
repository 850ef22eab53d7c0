"""Fixtures for the Inspector's tests: Debian's Chromium driven by Selenium through Debian's chromedriver.

`make test` installs chromium and chromium-driver when they are missing (Makefile: `browser`); here a
missing one is a failure that says so, never a skip.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.apps import built_app as other_app  # noqa: F401  (the tests here import it from this module)
from tests.conftest import API_TOKEN

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
WINDOW = (1440, 1000)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium per test process."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: `make test` installs it (apt-get install -y {package})", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1", "--lang=en-US",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture
def inspector(browser, app, workers, service_env):
    """The browser, signed in to the Inspector of the session's app; its console is checked afterwards."""
    from selenium.webdriver.common.by import By

    base = service_env["PUBLIC_BASE_URL"]
    browser.delete_all_cookies()
    browser.get(f"{base}/inspector/")
    assert "/inspector/login" in browser.current_url     # not signed in: the login form
    browser.find_element(By.ID, "token").send_keys(API_TOKEN)
    browser.find_element(By.ID, "login-submit").click()
    yield browser
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
              and "favicon" not in entry["message"]]
    assert not errors, errors


@pytest.fixture
def page_wait(inspector):
    """wait(condition, message, timeout): a WebDriverWait on the page (conditions, never sleeps)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def wait(condition, message: str, timeout: float = 10):
        return WebDriverWait(inspector, timeout, poll_frequency=0.05).until(condition, message)

    return wait


def sign_in(client, token: str = API_TOKEN, **headers):
    """Log a Flask test client in to the Inspector; returns the login response."""
    return client.post("/inspector/login", data={"token": token}, headers=headers)


def csrf_of(client) -> str:
    """The session's CSRF token, as the page's <meta> carries it."""
    page = client.get("/inspector/").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page[:500]
    return match.group(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, say what the page showed (and keep a screenshot beside the report)."""
    outcome = yield
    report = outcome.get_result()
    driver = item.funcargs.get("inspector") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or driver is None:
        return
    try:
        shown = driver.execute_script("""return {url: location.href,
            live: document.getElementById('live-indicator')?.dataset.state,
            transfer: document.getElementById('transfer-head')?.dataset.transferId,
            lanes: [...document.querySelectorAll('.lane')].map(l => l.dataset.laneId + '=' + l.dataset.state),
            steps: [...document.querySelectorAll('.step, .band')].map(s => s.dataset.event),
            seen: window.__laneStates}""")
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"inspector-failure-{item.name}.png"
        driver.save_screenshot(str(path))
        console = [e["message"] for e in driver.get_log("browser")][-20:]
        report.sections.append(("the Inspector page", f"{shown}\nscreenshot: {path}\nconsole: {console}"))
    except Exception as exc:     # the report must not fail because the browser did
        report.sections.append(("the Inspector page", f"unavailable: {exc!r}"))

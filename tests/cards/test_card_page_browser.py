"""The card as a phone shows it: a 375 px wide screen, long unbroken text, no sideways scrolling."""
from __future__ import annotations

import os

import pytest

from .conftest import ACCEPTS, card_link, texts_to

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = {"width": 375, "height": 812, "pixelRatio": 2}


@pytest.fixture(scope="module")
def phone_browser():
    """Headless Chromium emulating a 375 px wide phone."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: `make test` installs it (apt-get install -y {package})", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--lang=en-US",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def test_the_card_fits_a_phone_screen_without_sideways_scrolling(sim, phone, cards_api, phone_browser):
    desk = "+14155550711"
    sim.add_persona({"address": desk, **ACCEPTS})
    before = len(texts_to(sim, desk))
    caller = phone("+14155550731")
    cards_api("post", f"/api/calls/{caller}/transfers", json={
        "to": "card_desk", "reason": "an order that never arrived", "summary": "Tracking " + "X" * 120,
        "variables": {"order_reference_with_a_long_name": "ORD-" + "9" * 90},
        "context": {"transcript": [{"role": "caller", "text": "https://example.com/" + "a" * 150}]}})
    link = sim.wait_for(lambda: len(texts_to(sim, desk)) > before and card_link(texts_to(sim, desk)[-1]["Body"]),
                        timeout=15, message="card texted")

    phone_browser.get(link)
    width = phone_browser.execute_script("return window.innerWidth")
    scroll = phone_browser.execute_script("return document.documentElement.scrollWidth")
    font = phone_browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    text = phone_browser.execute_script("return document.body.innerText")
    assert width == PHONE["width"]
    assert scroll <= width, f"the page scrolls sideways: {scroll} px wide on a {width} px screen"
    assert font >= 16
    assert "an order that never arrived" in text and "ORD-999" in text

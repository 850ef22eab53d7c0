"""The Inspector's analytics page: behind the Inspector's login, its JSON the API's, drawn in a real browser."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import redis

from handoff.keys import Keys
from tests.browser.conftest import browser, inspector, page_wait  # noqa: F401 (fixtures)
from tests.conftest import API_TOKEN


@pytest.fixture
def signed_in(client):
    """A test client with an Inspector session (logged in through the form)."""
    page = client.get("/inspector/login")
    assert page.status_code == 200
    response = client.post("/inspector/login", data={"token": API_TOKEN, "next": "/inspector/analytics"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/inspector/analytics")
    return client


def test_page_and_json_need_the_login(client):
    page = client.get("/inspector/analytics")
    assert page.status_code == 302 and "/inspector/login" in page.headers["Location"]
    data = client.get("/inspector/analytics.json")
    assert data.status_code == 401 and data.get_json()["error"]["code"] == "unauthorized"
    # The bearer token opens the API, not the page's JSON.
    assert client.get("/inspector/analytics.json", headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 401


def test_page_loads_only_our_own_files(signed_in):
    page = signed_in.get("/inspector/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in html and " style=" not in html
    for name in ("analytics.js", "analytics.css"):
        assert signed_in.get(f"/inspector/static/{name}").status_code == 200


def test_json_is_the_api_answer(signed_in, api):
    query = {"since": "2021-03-04T00:00:00Z", "until": "2021-03-05T00:00:00Z", "tz": "Asia/Kolkata"}
    page = signed_in.get("/inspector/analytics.json", query_string=query)
    assert page.status_code == 200
    assert page.get_json() == api("get", "/api/analytics", query_string=query).get_json()
    bad = signed_in.get("/inspector/analytics.json", query_string={"tz": "Nowhere/Never"})
    assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["tz"]


@pytest.fixture
def this_hour(app, service_env):
    """A few transfers' worth of aggregates in the current hour, under names no transfer uses."""
    connection = redis.Redis.from_url(service_env["REDIS_URL"])
    key = Keys(service_env["REDIS_KEY_PREFIX"]).analytics(datetime.now(timezone.utc).strftime("%Y%m%d%H"))
    fields = {}
    # Hundreds, so these rank first among whatever else this session's tests dialed.
    for dest, accepted, declined, depth in (("chart_desk_a", 300, 100, 1), ("chart_desk_b", 100, 200, 2)):
        for dim in ("all=*", f"dest={dest}", "rule=(none)", "mode=warm"):
            for metric, n in (("attempts", accepted + declined), ("result:accepted", accepted),
                              ("result:declined", declined), ("transfers", accepted + declined),
                              ("outcome:transfer-success", accepted), ("outcome:transfer-screening-rejected", declined),
                              (f"depth:{depth}", accepted + declined), ("answer_le:3", accepted + declined),
                              ("answer_n", accepted + declined), ("hold_le:8", 20), ("hold_n", 20),
                              ("hangup_on_hold", 10)):
                fields[f"{dim}|{metric}"] = fields.get(f"{dim}|{metric}", 0) + n
    for field, n in fields.items():
        connection.hincrby(key, field, n)
    yield
    for field, n in fields.items():      # take them back out (the Lua never writes a zero)
        if connection.hincrby(key, field, -n) == 0:
            connection.hdel(key, field)
    connection.close()


def test_charts_are_drawn_in_the_browser(inspector, page_wait, service_env, this_hour, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = inspector
    browser.get(f"{service_env['PUBLIC_BASE_URL']}/inspector/analytics?window=24h&tz=UTC")
    page_wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "loaded", "figures loaded")
    checked = browser.find_element(By.CSS_SELECTOR, '.an-seg-btn[aria-checked="true"]')
    assert checked.get_attribute("data-window") == "24h"
    for chart in ("chart-series", "chart-outcomes", "chart-results", "chart-rates", "chart-answer", "chart-hold", "chart-hours",
                  "chart-depth"):
        svg = browser.find_elements(By.CSS_SELECTOR, f"#{chart} svg rect, #{chart} svg circle")
        assert svg, f"{chart} drew nothing"
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#chart-outcomes svg text.an-label")]
    assert "chart_desk_a" in labels and "chart_desk_b" in labels
    tips = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "#chart-outcomes title")]
    assert "chart_desk_b: 200 of 300 declined at screening (67%)" in tips
    tips = [t.get_attribute("textContent") for t in browser.find_elements(By.CSS_SELECTOR, "#chart-results title")]
    assert "chart_desk_a: 300 of 400 attempts accepted (75%)" in tips
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-hours rect")) == 3 * 24
    rows = {r.find_element(By.TAG_NAME, "th").text: r.text for r in browser.find_elements(By.CSS_SELECTOR, "#an-table tbody tr")}
    assert "chart_desk_a" in rows and "75%" in rows["chart_desk_a"]      # its accept rate
    # Another window and grouping: the URL keeps them, the charts follow.
    browser.find_element(By.CSS_SELECTOR, '.an-seg-btn[data-window="7d"]').click()
    page_wait(lambda d: "window=7d" in d.current_url and d.find_element(By.TAG_NAME, "body")
              .get_attribute("data-state") == "loaded", "7 days loaded")
    Select(browser.find_element(By.ID, "an-group")).select_by_value("mode")
    page_wait(lambda d: [t.text for t in d.find_elements(By.CSS_SELECTOR, "#an-table tbody th")][:1] != [] and
              "warm" in [t.text for t in d.find_elements(By.CSS_SELECTOR, "#an-table tbody th")], "per mode")
    browser.save_screenshot(str(tmp_path / "analytics.png"))     # for a look when it fails

"""The Live Inspector in Debian's Chromium: a warm transfer watched live, the analytics page, a cancel.

The page is never reloaded while the transfer runs: a mark left in the window survives, and a
MutationObserver records every state the recipient's lane shows, so the test sees the lane go
through ringing, whisper and bridged however briefly each lasts.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from tests.service.helpers import back_with_agent

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "inspector.png"
WARM = "+14155550150"             # warm_desk in tests/fixtures/recipients.yaml
UNANSWERED = "+14155550196"       # rings until cancelled
FIRST_CALLER, SECOND_CALLER = "+14155550180", "+14155550181"

# Records each state the recipient lanes show, in order, across re-renders of the swimlanes.
_WATCH_LANES = """
window.__inspectorMark = 'same page';
window.__laneStates = [];
window.__laneSeenAt = {};
const record = () => {
  for (const lane of document.querySelectorAll('.lane[data-lane-kind="recipient"]')) {
    const last = window.__laneStates[window.__laneStates.length - 1];
    if (last !== lane.dataset.state) window.__laneStates.push(lane.dataset.state);
    window.__laneSeenAt[lane.dataset.state] = window.__laneSeenAt[lane.dataset.state] || Date.now();
  }
};
new MutationObserver(record).observe(document.getElementById('transfer'), {childList: true, subtree: true,
                                                                          attributes: true});
record();
"""


def _states(driver) -> list[str]:
    return driver.execute_script("return window.__laneStates || []")


def _in_order(seen: list[str], wanted: list[str]) -> bool:
    position = 0
    for state in seen:
        if position < len(wanted) and state == wanted[position]:
            position += 1
    return position == len(wanted)


# The page redraws its lists and lanes as events arrive: read and click in one step, in the page.
def _attr(driver, css: str, name: str):
    return driver.execute_script("return document.querySelector(arguments[0])?.getAttribute(arguments[1]) ?? null",
                                 css, name)


def _text(driver, css: str) -> str:
    return driver.execute_script("return document.querySelector(arguments[0])?.innerText ?? ''", css)


def _click(driver, css: str) -> bool:
    return driver.execute_script("const e = document.querySelector(arguments[0]); if (e) e.click(); return !!e;", css)


def _open_from_list(driver, wait, transfer_id: str) -> None:
    """The transfer appears in the list by itself (live), and opens in place when clicked."""
    row = f'#transfer-list [data-transfer-id="{transfer_id}"] a'
    wait(lambda d: _click(d, row), f"transfer {transfer_id} listed live")
    wait(lambda d: _attr(d, "#transfer-head", "data-transfer-id") == transfer_id, "the transfer opened")


def test_watch_a_warm_transfer_live_then_cancel_another(inspector, page_wait, sim, phone, api, wait_transfer,
                                                        service_env, app):
    driver, wait = inspector, page_wait
    wait(lambda d: _attr(d, "#live-indicator", "data-state") == "live", "the live feed connected")
    driver.execute_script(_WATCH_LANES)

    # A warm transfer: the recipient rings for 2 s, answers (a human), hears the whisper, presses 1.
    sim.add_persona({"address": WARM, "name": "Dana (billing)", "kind": "human", "answer_after": 2.0,
                     "press": "1", "press_after": 0.8})
    caller = phone(FIRST_CALLER)
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "warm_desk", "reason": "a double charge", "timeout": 10,
        "summary": "The caller was charged twice for the October invoice."}).get_json()
    _open_from_list(driver, wait, transfer["id"])
    opened_at = driver.execute_script("return Date.now()") / 1000
    recipient = '.lane[data-lane-kind="recipient"]'
    wait(lambda d: _in_order(_states(d), ["ringing"]), "the recipient's lane ringing")
    wait(lambda d: _in_order(_states(d), ["ringing", "whisper"]), "the lane in the whisper")
    wait(lambda d: _in_order(_states(d), ["ringing", "whisper", "bridged"]), "the lane bridged")
    assert driver.execute_script("return window.__inspectorMark") == "same page"     # never reloaded

    # Each state was on the page within a second of the Twilio callback that caused it.
    seen_at = driver.execute_script("return window.__laneSeenAt")
    timeline = {e["event"]: e["at"] for e in api("get", f"/api/transfers/{transfer['id']}").get_json()["timeline"]}
    for state, event in (("ringing", "leg-ringing"), ("whisper", "whisper-started"), ("bridged", "bridged")):
        # (a step that happened before the transfer was opened counts from the opening)
        lag = seen_at[state] / 1000 - max(datetime.fromisoformat(timeline[event]).timestamp(), opened_at)
        print(f"{state}: on the page {lag * 1000:.0f} ms after {event}")
        assert lag < 1.0, (state, lag)
    assert _attr(driver, "#outcome", "data-outcome") == "transfer-success"
    assert "warm_desk heard the whisper, accepted" in _text(driver, "#outcome")      # the reason, in words
    assert "double charge" in _text(driver, f"{recipient} .whisper")                  # the whisper text
    assert _text(driver, f"{recipient} kbd") == "1"                                   # the key pressed
    assert _attr(driver, '.lane[data-lane-id="caller"]', "data-state") == "bridged"
    # Local mode: what each party heard, from the simulator (the caller: the hold announcement).
    wait(lambda d: "Please hold" in d.execute_script(
        "return document.querySelector('.lane[data-lane-id=\"caller\"] .heard')?.textContent || ''"),
        "what the caller heard")
    assert _attr(driver, "#cancel-button", "id") is None       # a bridged transfer cannot be cancelled
    # The lists follow too: the transfer's row and the live call say it connected.
    row = f'#transfer-list [data-transfer-id="{transfer["id"]}"]'
    wait(lambda d: _attr(d, row, "data-outcome") == "transfer-success", "the list shows the outcome")
    wait(lambda d: "Connected" in _text(d, f'#call-list [data-call-sid="{caller}"]'), "the live call connected")
    wait(lambda d: "Press 1" in d.execute_script(
        "return document.querySelector(arguments[0] + ' .heard')?.textContent || ''", recipient),
        "what the recipient heard")
    _screenshot(driver)
    sim.hangup(caller)

    # The analytics page, when this app has it (built by another part of the issue).
    assert _attr(driver, "#nav-analytics", "href").endswith("/inspector/analytics")
    if any(rule.rule.rstrip("/") == "/inspector/analytics" for rule in app.url_map.iter_rules()):
        _click(driver, "#nav-analytics")
        wait(lambda d: urlparse(d.current_url).path.rstrip("/") == "/inspector/analytics", "the analytics page")
        wait(lambda d: d.execute_script("return document.readyState") == "complete", "analytics loaded")
        assert "internal_server_error" not in driver.page_source and "Sign in" not in driver.title
        driver.get(f"{service_env['PUBLIC_BASE_URL']}/inspector/")
        wait(lambda d: _attr(d, "#live-indicator", "data-state") == "live", "back on the Inspector, live again")

    # A second transfer that rings on: cancelled from the page, the caller goes back to the agent.
    sim.add_persona({"address": UNANSWERED, "kind": "no-answer"})
    second_caller = phone(SECOND_CALLER)
    second = api("post", f"/api/calls/{second_caller}/transfers", json={
        "to": UNANSWERED, "mode": "warm", "timeout": 30, "reason": "a callback"}).get_json()
    _open_from_list(driver, wait, second["id"])
    wait(lambda d: _attr(d, recipient, "data-state") == "ringing", "the second lane ringing", timeout=15)
    assert _click(driver, "#cancel-button")
    wait(lambda d: _attr(d, "#outcome", "data-outcome") == "transfer-cancelled", "the transfer cancelled from the page")
    assert "Cancelled" in _text(driver, "#outcome")
    done = wait_transfer(second["id"])
    assert done["outcome"] == "transfer-cancelled"
    back_with_agent(sim, second_caller, "transfer-cancelled")
    row = f'#transfer-list [data-transfer-id="{second["id"]}"]'
    wait(lambda d: _attr(d, row, "data-outcome") == "transfer-cancelled", "the list shows the cancel")
    # The audit log names who cancelled it (the token's label, never the token) and from where.
    wait(lambda d: second["id"] in _text(d, '#audit-list [data-action="transfer-cancel"]'), "the cancel audited")
    assert "token-1" in _text(driver, '#audit-list [data-action="transfer-cancel"]')


def _screenshot(driver) -> None:
    """The Inspector showing the bridged warm transfer: README's picture (docs/inspector.png) when it is
    missing or HANDOFF_SCREENSHOT=1, else beside the test's temporary files (the tree stays clean)."""
    target = SCREENSHOT if os.environ.get("HANDOFF_SCREENSHOT") == "1" or not SCREENSHOT.exists() \
        else Path(os.environ.get("TMPDIR", "/tmp")) / "inspector.png"
    driver.execute_script("""
      for (const d of document.querySelectorAll('.heard')) d.open = d.dataset.lane !== 'agent';
      window.scrollTo(0, 0);""")
    target.parent.mkdir(exist_ok=True)
    # The whole page in one picture: the window is the page's height plus the browser's own frame.
    height, frame = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
    driver.set_window_size(1440, min(int(height) + int(frame), 3000))
    try:
        assert driver.save_screenshot(str(target))
    finally:
        driver.set_window_size(1440, 1000)

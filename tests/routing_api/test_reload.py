"""The recipients file reloads on change and on SIGHUP; a broken edit keeps the last good one."""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import pytest

from .conftest import RECIPIENTS, bearer, built_app


@pytest.fixture
def reload_app(app, service_env, tmp_path):
    """An app on a private copy of the recipients file (so the test may edit it)."""
    path = tmp_path / "recipients.yaml"
    shutil.copy(RECIPIENTS, path)
    with built_app(service_env, TRANSFER_CONFIG=str(path)) as flask_app:
        yield flask_app, path, bearer(flask_app, service_env)


def _edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text.replace(old, new))
    os.replace(tmp, path)        # atomic, like an editor or a config-management tool


def _listed(api) -> dict:
    body = api("get", "/api/recipients").get_json()
    return {"config": body["config"], **{item["name"]: item for item in body["recipients"]}}


def _wait(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{message} not within {timeout}s")


def test_an_edit_is_picked_up_without_a_restart(reload_app):
    _app, path, api = reload_app
    before = _listed(api)
    assert before["ra_billing"]["number"] == "+14155550701" and before["config"]["generation"] == 1
    _edit(path, '"+14155550701"', '"+14155550721"')
    started = time.monotonic()
    after = _wait(lambda: (lambda l: l if l["ra_billing"]["number"] == "+14155550721" else None)(_listed(api)),
                  timeout=3, message="edited number listed")
    assert time.monotonic() - started < 2.5
    assert after["config"]["generation"] == 2 and after["config"]["last_error"] is None
    explained = api("post", "/api/routing/explain", json={"variables": {"intent": "billing"}}).get_json()
    assert explained["steps"][0]["targets"][0]["address"] == "+14155550721"


def test_a_broken_edit_keeps_the_last_good_file_and_says_why(reload_app):
    _app, path, api = reload_app
    _edit(path, "    number: \"+14155550701\"", "    numbr: \"+14155550701\"")
    broken = _wait(lambda: (lambda l: l if l["config"]["last_error"] else None)(_listed(api)),
                   timeout=3, message="reload error reported")
    error = broken["config"]["last_error"]
    assert "ra_billing" in error and "numbr" in error and str(path) in error
    assert broken["config"]["generation"] == 1
    assert broken["ra_billing"]["number"] == "+14155550701"          # still the last good file
    assert api("post", "/api/routing/explain", json={"to": "billing"}).get_json()["ok"]
    # fixing the file clears the error
    _edit(path, "    numbr: \"+14155550701\"", "    number: \"+14155550722\"")
    fixed = _wait(lambda: (lambda l: l if l["config"]["last_error"] is None else None)(_listed(api)),
                  timeout=3, message="fixed file reloaded")
    assert fixed["ra_billing"]["number"] == "+14155550722" and fixed["config"]["generation"] == 2


def test_a_transfer_planned_before_a_reload_keeps_its_plan(reload_app, sim, phone, wait_transfer):
    _app, path, api = reload_app
    sim.add_persona({"address": "+14155550701", "kind": "human", "answer_after": 0.8, "hangup_after": 0.3})
    caller = phone("+14155550792")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "ra_billing"}).get_json()
    _edit(path, '"+14155550701"', '"+14155550723"')
    _wait(lambda: _listed(api)["ra_billing"]["number"] == "+14155550723", timeout=3, message="reloaded")
    bridged = sim.wait_for(lambda: sim.call(caller)["bridged_with"], timeout=8, message="caller bridged")
    assert sim.call(bridged)["to"] == "+14155550701"          # the plan made before the reload
    assert wait_transfer(transfer["id"])["outcome"] == "transfer-success"
    assert not [r for r in sim.requests() if "+14155550723" in json.dumps(r)]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_the_file(reload_app):
    flask_app, path, api = reload_app
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGHUP is only wired in the main thread")
    handler = signal.getsignal(signal.SIGHUP)
    if handler is flask_app.extensions["previous_sighup"] or not callable(handler):
        pytest.skip("create_app did not install a SIGHUP handler here (e.g. under gunicorn)")
    flask_app.extensions["routing_watch"].set()          # stop the file watcher: only SIGHUP may reload
    time.sleep(1.2)                                      # let its last poll pass
    _edit(path, '"+14155550701"', '"+14155550724"')
    time.sleep(1.2)
    assert _listed(api)["ra_billing"]["number"] == "+14155550701"   # nothing reloaded it yet
    os.kill(os.getpid(), signal.SIGHUP)
    listed = _wait(lambda: (lambda l: l if l["ra_billing"]["number"] == "+14155550724" else None)(_listed(api)),
                   timeout=2, message="SIGHUP reload")
    assert listed["config"]["generation"] == 2

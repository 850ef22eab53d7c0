"""HANDOFF_CLOCK drives the service's defaults (explain, listing, `flask routing explain`, transfers
without `at`); `at` is refused outside local mode, and when malformed."""
from __future__ import annotations

import json

import pytest

from ..apps import built_app
from ..conftest import API_TOKEN
from .conftest import ERIN, MONDAY_MORNING, SUNDAY_NIGHT

SUNDAY_UTC = "2026-11-23T03:00:00+00:00"
LOCAL_ONLY = "at: only in local mode (HANDOFF_LOCAL=1)"


def _bearer(flask_app):
    client = flask_app.test_client()

    def call(method, path, **kwargs):
        return getattr(client, method)(path, headers={"Authorization": f"Bearer {API_TOKEN}"}, **kwargs)

    return call


@pytest.fixture(scope="module")
def sunday_app(clock_app, clock_env):
    """This stack's recipients and state, with the service clock frozen on Sunday night."""
    with built_app(clock_env, HANDOFF_CLOCK=SUNDAY_NIGHT) as flask_app:
        yield flask_app


def test_explain_and_the_listing_default_to_the_service_clock(sunday_app, clock_env):
    api = _bearer(sunday_app)
    explained = api("post", "/api/routing/explain", json={}).get_json()
    assert explained["at"] == SUNDAY_UTC and explained["selected_rule"] == "after_hours"
    assert [r["name"] for r in explained["recipients"]] == ["ck_erin"]
    # `at` still wins over the service clock
    assert api("post", "/api/routing/explain", json={"at": MONDAY_MORNING}).get_json()["selected_rule"] is None
    listed = {item["name"]: item for item in api("get", "/api/recipients").get_json()["recipients"]}
    assert listed["ck_desk"]["open_now"] is False and listed["ck_oncall"]["on_call"] == "ck_erin"
    with built_app(clock_env, HANDOFF_CLOCK=f"moving:{MONDAY_MORNING}") as monday:
        listed = {item["name"]: item for item in _bearer(monday)("get", "/api/recipients").get_json()["recipients"]}
        assert listed["ck_desk"]["open_now"] is True and listed["ck_oncall"]["on_call"] == "ck_dave"


def test_flask_routing_explain_defaults_to_the_service_clock(sunday_app):
    result = sunday_app.test_cli_runner().invoke(args=["routing", "explain"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["at"] == SUNDAY_UTC and printed["selected_rule"] == "after_hours"


def test_a_transfer_without_at_routes_by_the_service_clock(sunday_app, clock_phone, finished, answering):
    caller = clock_phone("+14155550898")
    response = _bearer(sunday_app)("post", f"/api/calls/{caller}/transfers", json={"to": "auto"})
    assert response.status_code == 202, response.get_json()
    done = finished(response.get_json()["id"])     # dialed by this stack's workers, seen by its app
    assert done["clock_at"] == SUNDAY_UTC and done["rule"] == "after_hours" and done["outcome"] == "transfer-success"
    assert [t["address"] for a in done["attempts"] for t in a["targets"]] == [ERIN]


def test_a_transfer_on_the_real_clock_stores_no_time(api, phone, wait_transfer, sim):
    # The session app is in local mode without HANDOFF_CLOCK: nothing set, nothing stored or shown.
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone("+14155550899")
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"})
    assert response.status_code == 202, response.get_json()
    done = wait_transfer(response.get_json()["id"])
    assert done["clock_at"] is None and "clock_at" not in done["timeline"][0]


@pytest.mark.parametrize("at,problem", [
    ("2026-11-23T10:00:00", "UTC offset"), ("next monday", "ISO 8601"), (1764000000, "ISO 8601"),
    ("0001-01-01T00:00:00+05:00", "out of range"),
])
def test_a_malformed_at_is_refused_naming_it(api, at, problem):
    call = "CA" + "c1" * 16
    response = api("post", f"/api/calls/{call}/transfers", json={"to": "billing", "at": at})
    assert response.status_code == 422
    assert problem in response.get_json()["error"]["fields"]["at"][0]
    tool = api("post", "/api/tools/transfer_call", json={"call_sid": call, "destination": "billing", "at": at})
    assert tool.status_code == 422 and tool.get_json()["field"] == "at"


@pytest.fixture(scope="module")
def production(app, service_env):
    """The session's settings outside local mode."""
    with built_app(service_env, HANDOFF_LOCAL="0") as flask_app:
        yield flask_app


def test_at_is_refused_outside_local_mode(production, phone):
    api = _bearer(production)
    caller = phone("+14155550890")     # a live call: the refusal is about `at`, nothing else
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "at": MONDAY_MORNING})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["fields"] == {"at": [LOCAL_ONLY]} and error["message"] == LOCAL_ONLY
    tool = api("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "billing",
                                                         "at": MONDAY_MORNING})
    assert tool.status_code == 422 and tool.get_json()["field"] == "at"
    assert LOCAL_ONLY in tool.get_json()["error"]["message"]
    # nothing was started
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []

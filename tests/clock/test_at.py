"""A transfer's own time (`at`, local mode): the same request routes by the hours, rules and rotation at
that time, through the API, the tool endpoint and HandoffData; a dynamic recipient asked later in the
chain is told that time moved on by the real time since."""
from __future__ import annotations

import json

from .conftest import DAVE, DESK, ERIN, MONDAY_MORNING, SILENT, SUNDAY_NIGHT


def _dialed(transfer: dict) -> list[str]:
    """The addresses the transfer's attempts reached (a dynamic one once its webhook answered)."""
    return [t["address"] for a in transfer["attempts"][:transfer["attempt"] + 1] for t in a["targets"]]


def _requested(transfer: dict) -> dict:
    return next(e for e in transfer["timeline"] if e["event"] == "requested")


def test_the_same_auto_request_routes_by_its_time(clock_api, clock_phone, finished, answering):
    sunday, monday = clock_phone("+14155550891"), clock_phone("+14155550892")
    started = {}
    for caller, at in ((sunday, SUNDAY_NIGHT), (monday, MONDAY_MORNING)):
        response = clock_api("post", f"/api/calls/{caller}/transfers", json={"to": "auto", "at": at})
        assert response.status_code == 202, response.get_json()
        started[at] = response.get_json()
    night, day = finished(started[SUNDAY_NIGHT]["id"]), finished(started[MONDAY_MORNING]["id"])

    # Sunday 22:00 in New York: the night rule, and the rotation's member on call that week.
    assert any("rule 'after_hours' matched" in reason for reason in night["routing"]), night["routing"]
    assert night["rule"] == "after_hours" and _dialed(night) == [ERIN]
    # Monday 10:00: no rule matches (not night), the file's fallback, the desk is open.
    assert "no rule matched" in day["routing"] and day["rule"] is None and _dialed(day) == [DESK]
    for transfer, at in ((night, SUNDAY_NIGHT), (day, MONDAY_MORNING)):
        assert transfer["outcome"] == "transfer-success"
        assert transfer["clock_at"] == at and _requested(transfer)["clock_at"] == at


def test_explain_at_either_time_closes_and_opens_the_desk(clock_api):
    # explain at the same times (the service's answer without a call): the desk closed on Sunday night
    closed = clock_api("post", "/api/routing/explain", json={"to": "ck_desk", "at": SUNDAY_NIGHT}).get_json()
    assert [r["name"] for r in closed["recipients"]] == ["ck_desk", "ck_voicemail"]
    assert closed["recipients"][0]["skipped"]
    opened = clock_api("post", "/api/routing/explain", json={"to": "ck_desk", "at": MONDAY_MORNING}).get_json()
    assert [r["name"] for r in opened["recipients"]] == ["ck_desk", "ck_voicemail"]   # its fallback follows
    assert "skipped" not in opened["recipients"][0]


def test_the_tool_endpoint_accepts_at_but_never_offers_it(clock_api, clock_phone, finished, answering):
    for format_ in ("openai", "anthropic", "ultravox", "json-schema"):
        assert '"at"' not in json.dumps(clock_api("get", f"/api/tools?format={format_}").get_json())
    caller = clock_phone("+14155550893")
    response = clock_api("post", "/api/tools/transfer_call",
                         json={"call_sid": caller, "destination": "auto", "at": SUNDAY_NIGHT})
    assert response.status_code == 202, response.get_json()
    done = finished(response.get_json()["transfer_id"])
    assert done["clock_at"] == SUNDAY_NIGHT and _dialed(done) == [ERIN] and done["outcome"] == "transfer-success"


def test_handoff_data_carries_at(sim, clock_api, clock_phone, finished, answering):
    caller = clock_phone("+14155550894")
    sim.end_agent_session(caller, handoff_data=json.dumps({"transfer": {"to": "auto", "at": SUNDAY_NIGHT}}))
    transfers = sim.wait_for(lambda: clock_api("get", f"/api/calls/{caller}").get_json()["transfers"],
                             timeout=5, message="HandoffData's transfer")
    done = finished(transfers[0]["id"])
    assert _requested(done)["via"] == "handoff" and _requested(done)["clock_at"] == SUNDAY_NIGHT
    assert _dialed(done) == [ERIN] and done["outcome"] == "transfer-success"


def test_the_on_call_webhook_answers_for_the_transfers_time(clock_api, clock_phone, finished, answering):
    # The demo on-call tool is asked by a worker; it answers who is on call at the transfer's time.
    ids = {}
    for caller, at in ((clock_phone("+14155550895"), SUNDAY_NIGHT), (clock_phone("+14155550896"), MONDAY_MORNING)):
        response = clock_api("post", f"/api/calls/{caller}/transfers",
                             json={"to": "auto", "variables": {"intent": "outage"}, "at": at})
        assert response.status_code == 202, response.get_json()
        ids[at] = response.get_json()["id"]
    night, day = finished(ids[SUNDAY_NIGHT]), finished(ids[MONDAY_MORNING])
    assert night["rule"] == "outage" and _dialed(night) == [ERIN]     # Erin's week (from Monday 16th 09:00)
    assert day["rule"] == "outage" and _dialed(day) == [DAVE]         # Dave's, from Monday 23rd 09:00
    assert [e for e in night["timeline"] if e["event"] == "dynamic-destination"]


def test_a_recipient_dialed_later_sees_at_plus_the_time_elapsed(clock_api, clock_phone, finished, answering):
    # One second before the rotation's handover: Erin is on call at `at` itself...
    at = "2026-11-23T08:59:59-05:00"
    explained = clock_api("post", "/api/routing/explain", json={"to": "ck_oncall", "at": at}).get_json()
    assert [r["name"] for r in explained["recipients"]] == ["ck_erin"]
    # ...but the webhook is asked after the silent line rang out (its 2 s timeout): past 09:00, Dave.
    caller = clock_phone("+14155550897")
    response = clock_api("post", f"/api/calls/{caller}/transfers",
                         json={"to": "auto", "variables": {"intent": "escalate"}, "at": at})
    assert response.status_code == 202, response.get_json()
    done = finished(response.get_json()["id"])
    assert _dialed(done) == [SILENT, DAVE], done["timeline"]
    assert done["outcome"] == "transfer-success" and done["clock_at"] == at


def test_a_cold_dial_that_fails_before_a_dynamic_recipient_holds_the_caller_until_it_is_resolved(
        sim, clock_api, clock_phone, finished, answering):
    # The caller's own <Dial> to the silent line rings out; the next recipient is only known once a worker
    # has asked the on-call webhook, so the Dial's action answers hold audio, and the worker moves the caller.
    caller = clock_phone("+14155550898")
    response = clock_api("post", f"/api/calls/{caller}/transfers",
                         json={"to": "auto", "variables": {"intent": "escalate", "mode": "cold"},
                               "at": MONDAY_MORNING})
    assert response.status_code == 202, response.get_json()
    done = finished(response.get_json()["id"])
    assert done["mode"] == "cold" and _dialed(done) == [SILENT, DAVE], done["timeline"]
    assert done["outcome"] == "transfer-success", done["timeline"]
    assert not [e for e in sim.errors() if e.get("call_sid") == caller], sim.errors()


def test_twilio_refusing_once_to_move_the_held_caller_into_the_dynamic_dial_changes_nothing(
        sim, clock_api, clock_phone, finished, answering):
    # The caller holds while a worker asks the on-call webhook; the redirect into the next Dial then gets a 429
    # once (Twilio's rate limit): the job retries it, and the caller still reaches whoever is on call.
    caller = clock_phone("+14155550899")
    response = clock_api("post", f"/api/calls/{caller}/transfers",
                         json={"to": "auto", "variables": {"intent": "escalate", "mode": "cold"},
                               "at": MONDAY_MORNING})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["id"]
    sim.wait_for(lambda: sim.call(caller)["activity"] == "dialing", timeout=10, message="the caller's first Dial")
    sim.add_fault(target="rest", method="POST", path_contains=f"/Calls/{caller}", status=429, times=1)
    try:
        done = finished(transfer_id)
        refused = [h for h in sim.faults()["hits"] if h["status"] == 429]
    finally:
        sim.clear_faults()
    assert refused, "the 429 fired"
    assert _dialed(done) == [SILENT, DAVE] and done["outcome"] == "transfer-success", done["timeline"]

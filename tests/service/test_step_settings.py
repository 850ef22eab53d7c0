"""Each step of a plan is dialed with its own recipient's delivery settings (mode, detection, caller ID,
timeout), not the first recipient's: a warm desk's cold voicemail box is bridged as it is, unscreened.

Routing runs in an app built on this file's recipients; the transfer it stores is carried out by the
session's workers and webhooks (they read the stored plan, never the recipients file).
"""
from __future__ import annotations

import pytest

from tests.apps import api_caller, built_app
from tests.conftest import AGENT_NUMBER, API_TOKEN

from .helpers import events

DESK, BOX = "+14155550601", "+14155550602"
CALLER = "+14155550603"
RECIPIENTS = f"""
version: 1
timezone: UTC
defaults: {{mode: warm, timeout: 2, accept_timeout: 1, detection_timeout: 3, human_detection: true,
            caller_id: agent, whisper: "Step test about <reason>."}}
recipients:
  - name: step_desk
    type: number
    number: "{DESK}"
    description: A warm desk; its fallback is a voicemail box.
    fallback: step_box
  - name: step_box
    type: number
    number: "{BOX}"
    description: A voicemail box, taken cold, called from the caller's number.
    delivery: {{mode: cold, human_detection: false, caller_id: caller, timeout: 4}}
"""
HUMAN_DECLINES = {"kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05}
VOICEMAIL = {"kind": "voicemail", "answer_after": 0.1, "greeting_seconds": 0.2}


@pytest.fixture(scope="module")
def step_api(service_env, tmp_path_factory, app, workers):
    """The API of an app routing with this file's recipients, on the session's Redis and workers."""
    path = tmp_path_factory.mktemp("steps") / "recipients.yaml"
    path.write_text(RECIPIENTS)
    with built_app(service_env, TRANSFER_CONFIG=str(path)) as flask_app:
        yield api_caller(flask_app, API_TOKEN)


def _wait(sim, step_api, transfer_id, timeout=20):
    def done():
        body = step_api("get", f"/api/transfers/{transfer_id}").get_json()
        return body if body["status"] == "completed" or body["outcome"] == "transfer-success" else None
    return sim.wait_for(done, timeout=timeout, message=f"transfer {transfer_id}")


def _created(sim, to):
    return [r["params"] for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Calls.json")
            and r["params"].get("To") == to]


def _legs(sim, to, transfer):
    mine = {e.get("leg") for e in transfer["timeline"] if e["event"] in ("leg-dialed", "bridged", "leg-ringing")}
    return [c for c in sim.calls() if c["to"] == to and c["sid"] in mine]


def test_a_warm_desk_declines_and_its_cold_voicemail_box_is_bridged_unscreened(sim, phone, step_api):
    sim.add_persona({"address": DESK, **HUMAN_DECLINES})
    sim.add_persona({"address": BOX, **VOICEMAIL})
    caller = phone(CALLER)
    transfer = step_api("post", f"/api/calls/{caller}/transfers", json={
        "to": "step_desk", "reason": "a refund", "summary": "SECRET-SUMMARY"}).get_json()
    assert transfer["mode"] == "warm"
    done = _wait(sim, step_api, transfer["id"])
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    # The desk was screened as a warm recipient: detection, whisper, and it declined.
    desk = _created(sim, DESK)[-1]
    assert desk["MachineDetection"] == "Enable" and desk["From"] == AGENT_NUMBER and desk["Timeout"] == "2"
    # The box was dialed with its own settings: no detection, its own timeout, the caller's number.
    box = _created(sim, BOX)[-1]
    assert "MachineDetection" not in box
    assert box["Timeout"] == "4" and box["From"] == CALLER
    box_attempt = [e for e in done["timeline"] if e["event"] == "dialing"][-1]["attempt"]
    box_events = [e["event"] for e in done["timeline"] if e.get("attempt") == box_attempt]
    assert "direct-join" in box_events
    assert not {"detection", "consent-prompt", "whisper-started"} & set(box_events)
    # Nothing about the caller was said to the box; the caller is in the conference with it.
    leg = _legs(sim, BOX, done)[-1]
    assert leg["answered_by"] is None
    assert not [h for h in sim.heard(leg["sid"]) if h["kind"] == "say"]
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=5, message="caller bridged")
    assert "bridged" in events(done)


def test_a_cold_transfer_dials_the_fallback_with_its_own_caller_id(sim, phone, step_api):
    sim.add_persona({"address": DESK, "kind": "busy"})
    sim.add_persona({"address": BOX, **VOICEMAIL})
    caller = phone(CALLER)
    transfer = step_api("post", f"/api/calls/{caller}/transfers", json={"to": "step_desk", "mode": "cold"}).get_json()
    assert transfer["mode"] == "cold"
    done = _wait(sim, step_api, transfer["id"])
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    desk, box = _legs(sim, DESK, done), _legs(sim, BOX, done)
    assert desk and all(c["from"] == AGENT_NUMBER for c in desk)
    assert box and box[-1]["from"] == CALLER


def test_the_requests_caller_id_holds_for_every_step(sim, phone, step_api):
    sim.add_persona({"address": DESK, "kind": "busy"})
    sim.add_persona({"address": BOX, **VOICEMAIL})
    caller = phone(CALLER)
    transfer = step_api("post", f"/api/calls/{caller}/transfers", json={
        "to": "step_desk", "mode": "cold", "caller_id": "agent"}).get_json()
    done = _wait(sim, step_api, transfer["id"])
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    box = _legs(sim, BOX, done)
    assert box and box[-1]["from"] == AGENT_NUMBER


def test_a_direct_leg_whose_join_callback_is_lost_is_still_connected(sim, phone, step_api):
    # The box answers and is sent into the conference, but Twilio's word that it joined (or that the
    # conference started) never arrives: the join deadline, armed with the direct join, asks Twilio
    # instead of leaving the caller on hold.
    sim.add_persona({"address": DESK, **HUMAN_DECLINES})
    sim.add_persona({"address": BOX, **VOICEMAIL})
    caller = phone(CALLER)
    sim.add_fault(target="webhook", url_contains="/conference", action="drop", status="participant-join",
                  call_to=BOX)
    sim.add_fault(target="webhook", url_contains="/conference", action="drop", status="conference-start")
    try:
        transfer = step_api("post", f"/api/calls/{caller}/transfers", json={"to": "step_desk"}).get_json()
        done = _wait(sim, step_api, transfer["id"], timeout=40)
    finally:
        sim.clear_faults()
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    assert [e for e in done["timeline"] if e["event"] == "bridged" and e.get("reconciled")], events(done)
    assert "direct-join" in events(done)

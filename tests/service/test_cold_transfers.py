"""Cold (blind) transfers end to end: every outcome for Number, Sip, Client and Refer targets."""
import re

import pytest

from .helpers import back_with_agent, events, rest_requests_for

TARGETS = {
    "number": ("billing", "+14155550101"),
    "sip": ("pbx_desk", "sip:desk@pbx.example.com"),
    "client": ("supervisor", "client:supervisor"),
}


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_answered_transfer_bridges_then_ends_with_the_call(kind, sim, phone, api, wait_transfer):
    name, address = TARGETS[kind]
    sim.add_persona({"address": address, "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": name, "mode": "cold"}).get_json()
    sim.wait_for(lambda: sim.call(caller)["bridged_with"], timeout=5, message="caller bridged")
    bridged = sim.call(sim.call(caller)["bridged_with"])
    assert bridged["to"].startswith(address)
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    assert events(done)[:2] == ["requested", "dialing"] and "bridged" in events(done)
    # A final transfer: when the recipient hangs up, the caller's call ends too.
    sim.wait_for(lambda: sim.call(caller)["status"] == "completed", timeout=5, message="call ended")


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("behaviour,outcome", [
    ("no-answer", "transfer-failed-timeout"),
    ("busy", "transfer-failed-connection-error"),
    ("unreachable", "transfer-failed-connection-error"),
])
def test_failed_dial_returns_caller_to_agent_with_outcome(kind, behaviour, outcome, sim, phone, api,
                                                          wait_transfer):
    name, address = TARGETS[kind]
    sim.add_persona({"address": address, "kind": behaviour})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers",
                   json={"to": name, "mode": "cold", "timeout": 1, "reason": "billing question"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == outcome
    call = back_with_agent(sim, caller, outcome)
    assert call["agent"]["parameters"]["transfer_id"] == transfer["id"]
    # Read again: the event is written as the caller is sent back, after the outcome.
    assert "caller-returned" in events(wait_transfer(transfer["id"]))


def test_unassigned_number_is_a_connection_error(sim, phone, api, wait_transfer):
    caller = phone()
    # +14155550177 is allowed by TRANSFER_ALLOWED_PREFIXES but no persona answers it.
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "+14155550177"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-failed-connection-error"
    back_with_agent(sim, caller, "transfer-failed-connection-error")


def test_extension_is_sent_as_digits_after_answer(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550140", "kind": "ivr", "answer_after": 0.1,
                     "extensions": {"204": "+14155550141"}})
    sim.add_persona({"address": "+14155550141", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "extension_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    dial = next(e for e in sim.timeline(caller) if e.get("type") == "twiml" and "<Dial" in e.get("xml", ""))
    # Routing prefixes the extension with 'w' pauses (0.5 s each) so the far end's IVR is ready.
    assert re.search(r'sendDigits="w*204"', dial["xml"])


def test_sip_headers_and_credentials_reach_the_pbx(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "sip:desk@pbx.example.com", "kind": "human", "answer_after": 0.1,
                     "hangup_after": 0.2})
    caller = phone()
    api("put", f"/api/calls/{caller}/variables", json={"variables": {"account_id": "A123456"}})
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "pbx_desk"}).get_json()
    wait_transfer(transfer["id"])
    dial = next(e for e in sim.timeline(caller) if e.get("type") == "twiml" and "<Sip" in e.get("xml", ""))
    assert "X-Account=A123456" in dial["xml"]
    assert 'username="handoff"' in dial["xml"]


def test_caller_hanging_up_while_ringing_cancels(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "timeout": 10}).get_json()
    sim.wait_for(lambda: sim.call(caller)["activity"] == "dialing", timeout=5, message="dialing")
    sim.hangup(caller)
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-cancelled"
    # Twilio may request the Dial action (canceled) or only the status callback: either cancels.
    assert done["outcome_detail"] in ("caller hung up", "dial canceled")


def test_api_cancel_while_ringing_returns_caller_to_agent(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "timeout": 10}).get_json()
    sim.wait_for(lambda: sim.call(caller)["activity"] == "dialing", timeout=5, message="dialing")
    response = api("post", f"/api/transfers/{transfer['id']}/cancel")
    assert response.status_code == 200 and response.get_json()["outcome"] == "transfer-cancelled"
    back_with_agent(sim, caller, "transfer-cancelled")
    # Cancelling a finished transfer is a conflict, and changes nothing.
    again = api("post", f"/api/transfers/{transfer['id']}/cancel")
    assert again.status_code == 409
    assert wait_transfer(transfer["id"])["outcome"] == "transfer-cancelled"


def test_temporary_transfer_returns_caller_when_recipient_hangs_up(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "final": False}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    call = back_with_agent(sim, caller, "transfer-success")
    assert call["agent"]["parameters"]["transfer_detail"] == "recipient hung up"
    assert "caller-returned" in events(wait_transfer(transfer["id"]))


def test_refer_on_a_sip_call(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "sip:desk@pbx.example.com", "kind": "human", "answer_after": 0.1})
    caller = phone("sip:alice@customer.example.com", sip=True)
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "pbx_desk", "refer": True}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    assert "refer-result" in events(done)


def test_refused_refer_returns_caller_to_agent(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "sip:busy@pbx.example.com", "kind": "busy"})
    caller = phone("sip:bob@customer.example.com", sip=True)
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "busy_pbx", "refer": True}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] in ("transfer-failed-connection-error", "transfer-failed-timeout")
    back_with_agent(sim, caller, done["outcome"])


def test_refer_needs_a_sip_call(phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "pbx_desk", "refer": True})
    assert response.status_code == 422
    assert "refer" in response.get_json()["error"]["fields"]


def test_retry_with_same_idempotency_key_dials_once(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone()
    headers = {"Idempotency-Key": "tool-call-42"}
    first = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}, headers=headers)
    second = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    wait_transfer(first.get_json()["id"])
    # Even after the transfer finished, the same key answers the same transfer.
    third = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}, headers=headers)
    assert third.get_json()["id"] == first.get_json()["id"]
    redirects = [r for r in rest_requests_for(sim, caller) if r["method"] == "POST" and "Twiml" in r["params"]]
    assert len(redirects) == 1


def test_second_transfer_in_flight_is_a_conflict(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone()
    first = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "timeout": 2}).get_json()
    second = api("post", f"/api/calls/{caller}/transfers", json={"to": "supervisor"})
    assert second.status_code == 409
    body = second.get_json()["error"]
    assert body["code"] == "transfer_in_progress" and body["fields"]["transfer_id"] == [first["id"]]
    # Once the first is over, a new transfer is accepted.
    wait_transfer(first["id"])
    back_with_agent(sim, caller)
    sim.add_persona({"address": "client:supervisor", "kind": "human", "answer_after": 0.1, "hangup_after": 0.2})
    third = api("post", f"/api/calls/{caller}/transfers", json={"to": "supervisor"})
    assert third.status_code == 202


@pytest.mark.parametrize("destination", ["+19005550100", "+442071838750", "sip:anything@attacker.example",
                                         "client:someone", "not a number"])
def test_destinations_outside_the_allow_list_are_refused_before_any_dial(destination, sim, phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": destination})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "transfer_refused" and "to" in error["fields"]
    assert rest_requests_for(sim, caller) == []
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []


def test_agent_can_ask_for_a_transfer_in_handoff_data(sim, phone, wait_transfer, api):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone()
    sim.end_agent_session(caller, handoff_data='{"reason": "billing", "transfer": {"to": "billing", "mode": "cold"}}')
    sim.wait_for(lambda: api("get", f"/api/calls/{caller}").get_json()["transfers"], timeout=5)
    transfer = api("get", f"/api/calls/{caller}").get_json()["transfers"][0]
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    # The hand-off answered the Dial itself: no REST redirect was needed.
    assert not [r for r in rest_requests_for(sim, caller) if "Twiml" in r["params"]]


def test_agent_session_ending_without_transfer_hangs_up(sim, phone):
    caller = phone()
    sim.end_agent_session(caller, handoff_data='{"reason": "caller said goodbye"}')
    sim.wait_for(lambda: sim.call(caller)["status"] == "completed", timeout=5)


def test_attempt_deadline_frees_a_caller_twilio_never_reported(sim, phone, api, wait_transfer):
    """Our own deadline (not Twilio's Dial action) ends a cold attempt nobody reported on."""
    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone("+14155550177")
    sim.add_fault(target="webhook", url_contains="/dial-action", action="drop", call_from="+14155550177", times=1)
    try:
        transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "timeout": 2}).get_json()
        done = wait_transfer(transfer["id"], timeout=20)
        assert done["outcome"] == "transfer-failed-timeout" and done["outcome_detail"] == "no answer in time"
        back_with_agent(sim, caller, "transfer-failed-timeout")
        assert any(hit["action"] == "drop" for hit in sim.faults()["hits"])
    finally:
        sim.clear_faults()


def test_placeholders_in_the_hand_off_message_are_filled(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.2})
    caller = phone("+14155550190")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "billing", "reason": "a refund", "message": "Connecting you to <recipient> about <reason>."}).get_json()
    wait_transfer(transfer["id"])
    said = " ".join(h.get("text") or "" for h in sim.heard(caller))
    assert "Connecting you to billing about a refund." in said

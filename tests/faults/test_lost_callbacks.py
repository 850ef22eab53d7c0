"""Callbacks Twilio never delivers: the service's own timers must still end the transfer and return
the caller, within the transfer's deadline plus a few seconds."""
import pytest

from .helpers import BILLING, DIAL_ACTION_PATH, TIMEOUT, WARM, heard_text, settle, wait_ended

END_OF_CALL = ("completed", "no-answer", "canceled", "busy", "failed")


@pytest.mark.parametrize("kind,caller_number", [("voicemail", "+14155550321"), ("no-answer", "+14155550322")])
def test_warm_leg_end_of_call_status_never_arrives(kind, caller_number, stack, sim, faults, legs):
    persona = {"voicemail": {"kind": "voicemail", "answer_after": 0.1, "greeting_seconds": 0.2},
               "no-answer": {"kind": "no-answer"}}[kind]
    sim.add_persona({"address": WARM, **persona})
    # Whatever status the recipient's leg ends with, its callback is lost.
    rules = [faults.add(target="webhook", url_contains=stack.base_url, action="drop", status=status, call_to=WARM)
             for status in END_OF_CALL]
    caller = stack.place_call(caller_number)
    transfer = stack.transfer(caller, {"to": "warm_desk", "summary": "SECRET-SUMMARY"})
    # warm_desk: ring timeout 2 s, detection 3 s: the caller is back well within 12 s.
    settle(stack, caller, transfer["id"], timeout=12, allowed={TIMEOUT})
    recipient_legs = legs(WARM)
    assert recipient_legs
    wait_ended(sim, [c["sid"] for c in recipient_legs], message="the recipient's leg ended")
    for leg in recipient_legs:
        assert "SECRET-SUMMARY" not in heard_text(sim, leg["sid"]), "a machine heard the whisper"
    sim.wait_for(lambda: any(faults.hits(rule) for rule in rules), timeout=5,
                 message="an end-of-call callback of the recipient's leg was dropped")


def test_cold_dial_action_never_arrives(stack, sim, faults):
    sim.add_persona({"address": BILLING, "kind": "no-answer"})
    caller_number = "+14155550323"
    caller = stack.place_call(caller_number)
    rule = faults.add(target="webhook", url_contains=DIAL_ACTION_PATH, action="drop", call_from=caller_number)
    transfer = stack.transfer(caller, {"to": "billing", "mode": "cold", "timeout": 2})
    # Twilio's Dial gives up after 2 s and its action is lost: the caller waits in silence until the
    # service's own ring timer brings them back to the agent.
    settle(stack, caller, transfer["id"], timeout=12, allowed={TIMEOUT})
    faults.assert_hit(rule, "the Dial action was dropped")

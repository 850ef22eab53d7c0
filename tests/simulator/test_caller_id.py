"""calls.create's From: the account's numbers, verified caller IDs, or the caller's number with its CallToken."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import CALLER, NUMBER

OWNED, VERIFIED, STRANGER = "+14155550197", "+14155550198", "+14155550199"
HOLD = "<Response><Pause length='10'/></Response>"


def _refused(client, **kwargs):
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to="+14155550123", twiml="<Response/>", **kwargs)
    return exc.value


def _inbound(sim, receiver, caller=CALLER):
    """A live inbound call and the CallToken its voice URL request carried."""
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", HOLD))
    sid = sim.place_call(from_=caller, to=NUMBER)
    sim.wait_for(lambda: any(h["params"]["CallSid"] == sid for h in receiver.requests_to("/voice")))
    params = next(h["params"] for h in receiver.requests_to("/voice") if h["params"]["CallSid"] == sid)
    return sid, params.get("CallToken")


def test_the_accounts_numbers_and_verified_caller_ids_may_call_others_are_refused_with_21210(sim, client):
    sim.set_number(OWNED, voice_url="http://127.0.0.1:9/voice")
    sim.set_number(VERIFIED)                 # no voice URL: a verified caller ID
    assert client.calls.create(to="+14155550123", from_=OWNED, twiml="<Response/>").sid
    assert client.calls.create(to="+14155550123", from_=VERIFIED, twiml="<Response/>").sid
    refused = _refused(client, from_=STRANGER)
    assert (refused.status, refused.code) == (400, 21210)
    assert refused.msg.endswith(f"The source phone number provided, {STRANGER}, is not yet verified for your account. "
                           "You may only make calls from phone numbers that you've verified or purchased from Twilio.")
    # A client identity is not a phone number: no verification applies to it.
    assert client.calls.create(to="client:agent1", from_="client:handoff", twiml="<Response/>").sid


def test_the_callers_number_needs_the_live_inbound_calls_call_token(sim, client, receiver):
    sid, token = _inbound(sim, receiver)
    assert token
    assert _refused(client, from_=CALLER).code == 21210
    assert _refused(client, from_=CALLER, call_token="CT" + "0" * 64).code == 21210
    leg = client.calls.create(to="+14155550123", from_=CALLER, call_token=token, twiml="<Response/>")
    assert leg._from == CALLER
    # The token forwards only its own caller's number, and only while that call lasts.
    assert _refused(client, from_=STRANGER, call_token=token).code == 21210
    sim.hangup(sid)
    sim.wait_for(lambda: sim.call(sid)["status"] == "completed")
    assert _refused(client, from_=CALLER, call_token=token).code == 21210

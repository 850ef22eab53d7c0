"""Scoped personas: the same address behaves differently for calls from / about different numbers."""

import threading

import pytest

from conftest import CALLER, NUMBER
from simulator.testing import SimClientError

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")
RECIPIENT = "+14155550123"          # a global human persona in conftest (answers, presses 1)
AGENT_A, AGENT_B = "+15005551001", "+15005551002"


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _legs(sim, parent):
    return [c for c in sim.calls() if c["parent_call_sid"] == parent]


def _own_agent_numbers(sim):
    """The agents' numbers are the account's: calls.create may use them as From (else Twilio's 21210)."""
    for number in (AGENT_A, AGENT_B):
        sim.set_number(number)


def test_rest_leg_picks_the_persona_scoped_to_its_from(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Say>Hello</Say></Response>")
    _own_agent_numbers(sim)
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [AGENT_A]})
    sim.add_persona({"address": RECIPIENT, "kind": "no-answer", "scope": [AGENT_B, "+14155550999"]})
    busy = client.calls.create(to=RECIPIENT, from_=AGENT_A, url=url, timeout=1).sid
    unanswered = client.calls.create(to=RECIPIENT, from_=AGENT_B, url=url, timeout=1).sid
    answered = client.calls.create(to=RECIPIENT, from_=NUMBER, url=url).sid     # no scope names NUMBER
    assert _done(sim, busy)["status"] == "busy"
    assert _done(sim, unanswered)["status"] == "no-answer"
    assert _done(sim, answered)["status"] == "completed"
    assert [h["text"] for h in sim.heard(answered)] == ["Hello"]


def test_dial_leg_is_scoped_by_its_parent_calls_from_and_to(sim, receiver):
    receiver.on("/done", "<Response/>")
    url = receiver.on("/voice", f"<Response><Dial action='/done' timeout='2' callerId='{AGENT_A}'>"
                                f"<Number>{RECIPIENT}</Number></Dial></Response>")
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [CALLER]})     # the parent's From
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert receiver.requests_to("/done")[0]["params"]["DialCallStatus"] == "busy"
    sim.remove_personas(CALLER)
    sim.add_persona({"address": RECIPIENT, "kind": "unreachable", "scope": [NUMBER]})   # the parent's To
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert receiver.requests_to("/done")[-1]["params"]["DialCallStatus"] == "failed"


def test_the_caller_persona_is_scoped_by_its_own_from(sim):
    url = "http://127.0.0.1:9/unused"
    sim.set_number(NUMBER, voice_url=url)
    caller = "+14155550777"
    sim.add_persona({"address": caller, "kind": "human", "hangup_on_hold_after": 5, "scope": [caller]})
    sim.add_persona({"address": caller, "kind": "human", "name": "global"})
    sid = sim.place_call(from_=caller, to=NUMBER)
    call = sim.simulator.calls[sid]
    assert call.persona.scope == [caller] and call.context == (caller,)
    _done(sim, sid)


def test_replace_list_and_remove_by_scope(sim):
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": AGENT_A, "name": "first"})
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [AGENT_A], "name": "second"})   # replaces
    sim.add_persona({"address": RECIPIENT, "kind": "fax", "scope": [AGENT_B, AGENT_A], "name": "both"})
    mine = sim.personas(scope=AGENT_A)
    assert sorted(p["name"] for p in mine) == ["both", "second"]
    assert [p["name"] for p in sim.personas(scope=[AGENT_B])] == ["both"]
    assert any(p["address"] == CALLER and p["scope"] is None for p in sim.personas())
    # The newest scoped persona naming one of the call's numbers wins.
    assert sim.simulator.persona_for(RECIPIENT, (AGENT_A,)).name == "both"
    assert sim.simulator.persona_for(RECIPIENT, (NUMBER,)).name == "Alice (billing)"
    assert sim.remove_personas(AGENT_B) == 1
    assert sim.simulator.persona_for(RECIPIENT, (AGENT_A,)).name == "second"
    assert sim.remove_personas([AGENT_A, AGENT_B]) == 1
    assert sim.personas(scope=AGENT_A) == [] and sim.simulator.persona_for(RECIPIENT, (AGENT_A,)).kind == "human"


def test_delete_needs_a_scope_and_an_unencoded_plus_still_works(sim):
    with pytest.raises(SimClientError) as err:
        sim._req("DELETE", "/personas")
    assert err.value.status == 400 and "scope" in err.value.body["message"]
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [AGENT_A]})
    # curl -X DELETE '…/sim/personas?scope=+15005551001': the '+' arrives as a space.
    assert sim._req("DELETE", "/personas?scope=" + AGENT_A) == {"removed": 1}


@pytest.mark.parametrize("scope", [[], "", [""], [3], {"a": 1}])
def test_a_bad_scope_is_a_400_naming_the_key(sim, scope):
    with pytest.raises(SimClientError) as err:
        sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": scope})
    assert err.value.status == 400 and "scope" in err.value.body["message"]


def test_sip_scope_and_refer_target_are_scoped_by_the_referring_call(sim, receiver):
    sip_caller = "sip:Alice@Customer.example.com"
    receiver.on("/refer-done", "<Response><Say>Refer failed</Say></Response>")
    url = receiver.on("/voice", f"<Response><Refer action='/refer-done'><Sip>tel:{RECIPIENT}</Sip></Refer></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sim.add_persona({"address": sip_caller, "kind": "human"})
    sid = sim.place_call(from_=sip_caller, to=NUMBER, sip=True)     # a tel: target is the number's persona
    _done(sim, sid)
    assert receiver.requests_to("/refer-done")[0]["params"]["ReferSipResponseCode"] == "202"
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": ["sip:alice@customer.example.com"]})
    sid = sim.place_call(from_=sip_caller, to=NUMBER, sip=True)
    _done(sim, sid)
    params = receiver.requests_to("/refer-done")[-1]["params"]
    assert params["ReferCallStatus"] == "failed" and params["ReferSipResponseCode"] == "486"
    sim.remove_personas("sip:alice@customer.example.com")


def test_ivr_extension_is_scoped_like_the_ivr_leg(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Say>For you</Say></Response>")
    cb = receiver.on("/cb", "")
    _own_agent_numbers(sim)
    sim.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [AGENT_A]})
    sid = client.calls.create(to="+14155550130", from_=AGENT_A, url=url, send_digits="ww123", status_callback=cb).sid
    call = _done(sim, sid)
    assert any(e["type"] == "ivr-route" for e in sim.timeline(sid))
    assert call["status"] == "completed" and sim.heard(sid) == []     # the scoped extension was busy: hung up
    sid = client.calls.create(to="+14155550130", from_=AGENT_B, url=url, send_digits="ww123").sid
    _done(sim, sid)
    assert [h["text"] for h in sim.heard(sid)] == ["For you"]


def test_concurrent_scoped_adds_lookups_and_removals(sim):
    engine = sim.simulator
    errors = []

    def scenario(n):
        scope = f"+1500555{n:04d}"
        try:
            for round_no in range(50):
                engine.add_persona({"address": RECIPIENT, "kind": "busy", "scope": [scope], "name": f"{n}-{round_no}"})
                assert engine.persona_for(RECIPIENT, (scope,)).name == f"{n}-{round_no}"
                engine.list_personas()
                assert engine.remove_personas([scope]) == 1
                assert engine.persona_for(RECIPIENT, (scope,)).name == "Alice (billing)"
        except Exception as exc:  # collected: a thread's assertion must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=scenario, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and engine.scoped_personas == {}

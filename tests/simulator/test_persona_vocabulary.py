"""Personas for the scenario vocabulary, against the service's own screening documents (twiml.render):
press: accept|decline read off the prompt, hangup_during: whisper, tel: REFER targets."""

import pytest

from conftest import NUMBER
from handoff.transfer import decisions as d
from simulator.testing import SimClientError
from twiml import render

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")
WHISPER = "Billing call about account A123456: refund."


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _screening(receiver, *, consent, accept_key="1", decline_key="2"):
    """The service's documents for a leg: the consent prompt (optional), then the whisper and its keys."""
    whisper = render(d.Whisper(text=WHISPER, accept_key=accept_key, decline_key=decline_key,
                               action_url="/key", timeout=1))
    receiver.on("/consent", lambda p: whisper if p.get("Digits") == accept_key else render(d.Hangup()))
    receiver.on("/key", lambda p: "<Response><Say>Joined</Say></Response>" if p.get("Digits") == accept_key
                else render(d.Declined()) if p.get("Digits") == decline_key else render(d.Hangup()))
    if consent:
        return receiver.on("/answer", render(d.ConsentPrompt(key=accept_key, action_url="/consent", timeout=1)))
    return receiver.on("/answer", whisper)


def _keys(receiver, path):
    return [h["params"].get("Digits") for h in receiver.requests_to(path)]


@pytest.mark.parametrize("consent", [False, True])
@pytest.mark.parametrize("keys", [("1", "2"), ("7", "9")])
def test_accept_presses_the_key_the_prompt_names(sim, client, receiver, consent, keys):
    url = _screening(receiver, consent=consent, accept_key=keys[0], decline_key=keys[1])
    sim.add_persona({"address": "+14155550140", "kind": "human", "answer_after": 0.05, "press": "accept",
                     "press_after": 0.02})
    sid = client.calls.create(to="+14155550140", from_=NUMBER, url=url).sid
    _done(sim, sid)
    assert _keys(receiver, "/key") == [keys[0]]
    assert _keys(receiver, "/consent") == ([keys[0]] if consent else [])
    texts = [h.get("text") for h in sim.heard(sid)]
    assert WHISPER in texts and texts[-1] == "Joined"
    choices = [e for e in sim.timeline(sid) if e["type"] == "persona-choice"]
    assert choices[-1]["choice"] == "accept" and choices[-1]["key"] == keys[0]


@pytest.mark.parametrize("consent", [False, True])
def test_decline_listens_first_then_presses_the_decline_key(sim, client, receiver, consent):
    url = _screening(receiver, consent=consent, accept_key="1", decline_key="2")
    sim.add_persona({"address": "+14155550141", "kind": "human", "answer_after": 0.05, "press": "decline",
                     "press_after": 0.02})
    sid = client.calls.create(to="+14155550141", from_=NUMBER, url=url).sid
    _done(sim, sid)
    assert _keys(receiver, "/consent") == (["1"] if consent else [])    # proves a person, to hear the whisper
    assert _keys(receiver, "/key") == ["2"]
    assert "Thank you. The caller will be helped elsewhere." in [h.get("text") for h in sim.heard(sid)]


def test_a_prompt_without_the_choice_gets_no_key(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Gather numDigits='1' timeout='1' action='/key'>"
                                 "<Say>Press 1 to accept.</Say></Gather></Response>")
    receiver.on("/key", "<Response/>")
    sim.add_persona({"address": "+14155550142", "kind": "human", "answer_after": 0.05, "press": "decline"})
    sid = client.calls.create(to="+14155550142", from_=NUMBER, url=url).sid
    _done(sim, sid)
    assert receiver.requests_to("/key") == []
    assert [e["key"] for e in sim.timeline(sid) if e["type"] == "persona-choice"] == [None]


@pytest.mark.parametrize("consent", [False, True])
def test_hangs_up_once_the_whisper_is_heard(sim, client, receiver, consent):
    url = _screening(receiver, consent=consent)
    cb = receiver.on("/cb", "")
    sim.add_persona({"address": "+14155550143", "kind": "human", "answer_after": 0.05, "press_after": 0.02,
                     "hangup_during": "whisper"})     # no press: it still gets past a consent prompt
    sid = client.calls.create(to="+14155550143", from_=NUMBER, url=url, status_callback=cb,
                              status_callback_event=["answered", "completed"]).sid
    assert _done(sim, sid)["status"] == "completed"
    heard = sim.heard(sid)
    assert heard[-1]["text"] == WHISPER and heard[-1]["interrupted"] is True     # it started hearing it
    assert receiver.requests_to("/key") == []                                    # and never pressed a key
    assert _keys(receiver, "/consent") == (["1"] if consent else [])            # the consent prompt is no whisper
    assert [e for e in sim.timeline(sid) if e["type"] == "hangup"][0]["by"] == "party"
    sim.wait_for(lambda: [h["params"]["CallStatus"] for h in receiver.requests_to("/cb")] == ["in-progress",
                                                                                              "completed"])


def test_hangs_up_during_a_dial_whisper_document(sim, receiver):
    receiver.on("/whisper", f"<Response><Say>{WHISPER}</Say><Gather numDigits='1' action='/screen' timeout='1'>"
                            "<Say>Press 1</Say></Gather></Response>")
    receiver.on("/done", "<Response/>")
    url = receiver.on("/voice", "<Response><Dial action='/done' timeout='5'><Number url='/whisper'>"
                                "+14155550144</Number></Dial></Response>")
    sim.add_persona({"address": "+14155550144", "kind": "human", "answer_after": 0.05, "hangup_during": "whisper"})
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_="+14155550100", to=NUMBER)
    _done(sim, sid)
    assert receiver.requests_to("/done")[0]["params"]["DialBridged"] == "false"
    leg = next(c for c in sim.calls() if c["parent_call_sid"] == sid)
    assert [(h["kind"], h.get("interrupted")) for h in sim.heard(leg["sid"])] == [("whisper", True)]


def test_a_long_whisper_is_cut_after_half_a_second(sim, client, receiver):
    sim.settings(speech_seconds_per_char=0.06)
    try:
        url = _screening(receiver, consent=False)
        sim.add_persona({"address": "+14155550145", "kind": "human", "answer_after": 0.05,
                         "hangup_during": "whisper"})
        sid = client.calls.create(to="+14155550145", from_=NUMBER, url=url).sid
        _done(sim, sid)
        assert 0.4 <= sim.heard(sid)[-1]["seconds"] < 1.0      # the whisper alone would last ~2.6 s
    finally:
        sim.settings(speech_seconds_per_char=0.001)


@pytest.mark.parametrize("persona,message", [
    ({"press": "yes"}, "press"), ({"hangup_during": "hold"}, "hangup_during")])
def test_bad_vocabulary_is_a_400(sim, persona, message):
    with pytest.raises(SimClientError) as err:
        sim.add_persona({"address": "+14155550146", **persona})
    assert err.value.status == 400 and message in err.value.body["message"]


def test_tel_refer_target_reaches_the_number_persona(sim, receiver):
    receiver.on("/refer-done", "<Response/>")
    url = receiver.on("/voice", render(d.ReferOut(d.Endpoint(kind="number", address="+14155550126"),
                                                  action_url="/refer-done")))
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_="sip:caller@customer.example.com", to=NUMBER, sip=True)
    _done(sim, sid)
    params = receiver.requests_to("/refer-done")[0]["params"]
    assert params["ReferSipResponseCode"] == "486"     # +14155550126 is the busy persona
    assert [e["to"] for e in sim.timeline(sid) if e["type"] == "refer"] == ["tel:+14155550126"]

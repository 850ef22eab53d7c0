"""Calls REST API and the core TwiML verbs, driven with the official twilio client."""

import json

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import ACCOUNT_SID, CALLER, NUMBER


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in ("completed", "busy", "failed", "no-answer", "canceled"),
                 message=f"call {sid} ended")
    return sim.call(sid)


def test_create_fetch_list_with_paging(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Pause length='0'/></Response>")
    sids = [client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid for _ in range(3)]
    assert all(s.startswith("CA") and len(s) == 34 for s in sids)
    fetched = client.calls(sids[0]).fetch()
    assert fetched.to == "+14155550123" and fetched.direction == "outbound-api"
    listed = client.calls.list(page_size=2)
    assert {c.sid for c in listed} >= set(sids)
    page = client.calls.page(page_size=2)
    assert page.next_page_url and len(page.next_page().load_page(page.next_page()._payload)) >= 1
    for s in sids:
        _done(sim, s)
    assert client.calls(sids[0]).fetch().status == "completed"
    assert client.calls.list(to="+14155550123", status="completed", limit=10)


def test_status_callbacks_all_events_in_order(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Say>Hi</Say></Response>")
    cb = receiver.on("/cb", "")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url, status_callback=cb,
                              status_callback_event=["initiated", "ringing", "answered", "completed"]).sid
    _done(sim, sid)
    sim.wait_for(lambda: len(receiver.requests_to("/cb")) == 4)
    hits = receiver.requests_to("/cb")
    assert [h["params"]["CallStatus"] for h in hits] == ["initiated", "ringing", "in-progress", "completed"]
    assert [h["params"]["SequenceNumber"] for h in hits] == ["0", "1", "2", "3"]
    p = hits[-1]["params"]
    assert p["CallSid"] == sid and p["AccountSid"] == ACCOUNT_SID and p["ApiVersion"] == "2010-04-01"
    assert p["Direction"] == "outbound-api" and "Timestamp" in p and "CallDuration" in p
    answer = receiver.requests_to("/answer")[0]["params"]
    assert answer["CallStatus"] == "in-progress" and answer["To"] == "+14155550123"


@pytest.mark.parametrize("to,status", [("+14155550125", "no-answer"), ("+14155550126", "busy"),
                                       ("+14155550127", "failed"), ("+14155559999", "failed")])
def test_unanswered_outcomes(sim, client, receiver, to, status):
    url = receiver.on("/answer", "<Response/>")
    cb = receiver.on("/cb", "")
    sid = client.calls.create(to=to, from_=NUMBER, url=url, timeout=1, status_callback=cb).sid
    assert _done(sim, sid)["status"] == status
    sim.wait_for(lambda: receiver.requests_to("/cb"))
    assert receiver.requests_to("/cb")[0]["params"]["CallStatus"] == status
    assert not receiver.requests_to("/answer")


def test_invalid_to_and_bad_credentials(sim, client):
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to="not-a-number", from_=NUMBER, twiml="<Response/>")
    assert exc.value.code == 21211 and exc.value.status == 400
    from twilio.rest import Client
    bad = Client(ACCOUNT_SID, "wrong")
    bad.api.base_url = sim.url
    with pytest.raises(TwilioRestException) as exc:
        bad.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>")
    assert exc.value.code == 20003 and exc.value.status == 401
    with pytest.raises(TwilioRestException) as exc:
        client.calls("CA" + "f" * 32).fetch()
    assert exc.value.code == 20404 and exc.value.status == 404


def test_strict_unknown_param_and_enum(sim, client):
    from simulator.testing import load_spec

    if load_spec() is None:
        pytest.skip("strict enum checks need Twilio's API description (../shared/twilio-oai)")
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", method="PUT")
    assert "Method" in exc.value.msg and exc.value.status == 400
    resp = client.request("POST", f"{sim.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
                          data={"To": "+14155550123", "From": NUMBER, "Twiml": "<Response/>", "Tiemout": "5"})
    assert resp.status_code == 400 and "Tiemout" in json.loads(resp.text)["message"]


def test_update_twiml_redirects_and_completed_hangs_up(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Play loop='0'>http://x/music.mp3</Play></Response>")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid
    sim.wait_for(lambda: sim.call(sid)["activity"] == "play")
    client.calls(sid).update(twiml="<Response><Say>Redirected</Say><Pause length='5'/></Response>")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "pause")
    assert any(h.get("text") == "Redirected" for h in sim.heard(sid))
    call = client.calls(sid).update(status="completed")
    assert call.status == "completed"
    with pytest.raises(TwilioRestException) as exc:
        client.calls(sid).update(url=url)
    assert exc.value.code == 21220
    client.calls(sid).delete()
    with pytest.raises(TwilioRestException):
        client.calls(sid).fetch()


def test_cancel_ringing_call(sim, client):
    sid = client.calls.create(to="+14155550125", from_=NUMBER, twiml="<Response/>").sid
    sim.wait_for(lambda: sim.call(sid)["status"] == "ringing")
    assert client.calls(sid).update(status="canceled").status == "canceled"


def test_gather_persona_presses_and_action(sim, client, receiver):
    url = receiver.on("/menu", "<Response><Gather numDigits='1' action='/picked' timeout='2'>"
                               "<Say>Press 1 to accept</Say></Gather><Say>No input</Say></Response>")
    receiver.on("/picked", "<Response><Say>Thanks</Say></Response>")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid
    _done(sim, sid)
    picked = receiver.requests_to("/picked")
    assert picked and picked[0]["params"]["Digits"] == "1"
    texts = [h.get("text") for h in sim.heard(sid)]
    assert texts == ["Press 1 to accept", "Thanks"]


def test_gather_control_api_press_with_finish_key_and_timeout_falls_through(sim, receiver):
    url = receiver.on("/voice", "<Response><Gather action='/got' timeout='1'><Say>Enter code</Say></Gather>"
                                "<Say>Nothing entered</Say></Response>")
    receiver.on("/got", "<Response><Say>Got it</Say></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "gather")
    assert sim.press(sid, "42#")
    _done(sim, sid)
    assert receiver.requests_to("/got")[0]["params"]["Digits"] == "42"
    sid2 = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid2)
    assert [h.get("text") for h in sim.heard(sid2)][-1] == "Nothing entered"


def test_redirect_reject_and_caller_hangup(sim, client, receiver):
    url = receiver.on("/a", "<Response><Redirect>/b</Redirect></Response>")
    receiver.on("/b", "<Response><Pause length='10'/></Response>")
    receiver.on("/cb", "")
    sim.set_number(NUMBER, voice_url=url, status_callback=receiver.url + "/cb")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "pause")
    sim.hangup(sid)
    assert _done(sim, sid)["status"] == "completed"
    receiver.on("/a", "<Response><Reject reason='busy'/></Response>")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    assert _done(sim, sid)["status"] == "busy"


def test_caller_persona_hangs_up_after(sim, receiver):
    url = receiver.on("/voice", "<Response><Pause length='10'/></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_="+14155550131", to=NUMBER)
    call = _done(sim, sid)
    assert call["status"] == "completed" and call["duration"] <= 1


def test_connect_conversation_relay_handoff(sim, receiver):
    url = receiver.on("/voice", "<Response><Connect action='/after'><ConversationRelay url='wss://ai/ws' "
                                "welcomeGreeting='Hi'><Parameter name='tenant' value='acme'/>"
                                "</ConversationRelay></Connect></Response>")
    receiver.on("/after", "<Response><Say>Transferring</Say></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "with-agent")
    agent = sim.call(sid)["agent"]
    assert agent["connected"] and agent["sessions"] == 1 and agent["url"] == "wss://ai/ws"
    assert agent["parameters"] == {"tenant": "acme"}
    sim.end_agent_session(sid, handoff_data={"reason": "billing"})
    _done(sim, sid)
    after = receiver.requests_to("/after")[0]["params"]
    assert json.loads(after["HandoffData"]) == {"reason": "billing"}
    assert sim.call(sid)["agent"]["handoff_data"] == json.dumps({"reason": "billing"})


def test_connect_stream_until_redirect(sim, client, receiver):
    url = receiver.on("/voice", "<Response><Connect><Stream url='wss://ai/stream'/></Connect></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "with-agent")
    client.calls(sid).update(twiml="<Response><Say>Bye</Say></Response>")
    _done(sim, sid)
    assert sim.call(sid)["agent"]["connected"] is False

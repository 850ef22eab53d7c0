"""Fault rules (/sim/faults) and realistic callback timing, driven with the official twilio client."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import CALLER, NUMBER
from simulator.testing import SimClientError

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _quiet(sim):
    """No status callback queued, scheduled or running: whatever was going to arrive has arrived."""
    inner = sim.simulator
    with inner.scheduler._cv:
        pending = bool(inner.scheduler._heap)
    return inner.sender.idle() and not pending


def _statuses(receiver, path, sid):
    return [h["params"]["CallStatus"] for h in receiver.requests_to(path) if h["params"]["CallSid"] == sid]


# ----- the /sim/faults API ---------------------------------------------------------------------------

def test_fault_api_add_list_clear_and_validation(sim):
    rule = sim.add_fault(target="webhook", url_contains="/status", action="delay", seconds=0.5, times=2)
    assert rule["id"].startswith("FR") and rule["action"] == "delay" and rule["seconds"] == 0.5
    assert rule["times"] == 2 and rule["status"] is None and rule["call_to"] is None
    dup = sim.add_fault(target="webhook", action="duplicate")
    assert dup["seconds"] == 0.2 and dup["times"] is None and dup["url_contains"] == ""
    rest = sim.add_fault(target="rest", method="post", path_contains="/Calls.json", status=429)
    assert rest["method"] == "POST" and rest["code"] == 20429 and rest["times"] == 1
    assert sim.add_fault(target="rest", status=503)["code"] == 20500
    many = sim._req("POST", "/faults", {"rules": [{"target": "rest", "status": 500, "times": None},
                                                  {"target": "webhook", "action": "drop", "status": "completed"}]})
    assert [r["target"] for r in many["rules"]] == ["rest", "webhook"] and many["rules"][0]["times"] is None
    listed = sim.faults()
    assert len(listed["rules"]) == 6 and listed["hits"] == []
    for bad, key in (({"target": "webhook", "action": "drop", "colour": "red"}, "colour"),
                     ({"target": "webhook", "action": "explode"}, "action"),
                     ({"target": "webhook", "action": "delay", "seconds": -1}, "seconds"),
                     ({"target": "webhook", "action": "drop", "status": "answered-ish"}, "status"),
                     ({"target": "webhook", "action": "drop", "times": 0}, "times"),
                     ({"target": "rest", "status": 200}, "status"),
                     ({"target": "rest", "status": 429, "method": "PATCH"}, "method"),
                     ({"target": "rest", "status": 429, "url_contains": "/x"}, "url_contains"),
                     ({"target": "sms", "status": 429}, "target")):
        with pytest.raises(SimClientError) as exc:
            sim.add_fault(**bad)
        assert exc.value.status == 400 and f"'{key}'" in exc.value.body["message"], (bad, exc.value.body)
        assert set(exc.value.body) >= {"code", "message", "more_info", "status"}
    with pytest.raises(SimClientError):  # all or none
        sim._req("POST", "/faults", {"rules": [{"target": "rest", "status": 500}, {"target": "nope"}]})
    assert len(sim.faults()["rules"]) == 6
    sim.clear_faults()
    assert sim.faults() == {"rules": [], "hits": []}


# ----- REST faults -------------------------------------------------------------------------------------

def test_rest_429_on_create_has_no_effect_then_retry_succeeds(sim, client):
    other = sim.add_fault(target="rest", method="POST", path_contains="/Calls.json", status=429,
                          call_to="+14155550124")
    rule = sim.add_fault(target="rest", method="POST", path_contains="/Calls.json", status=429,
                         call_to="+14155550123")
    with pytest.raises(TwilioRestException) as exc:
        client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>")
    assert exc.value.status == 429 and exc.value.code == 20429
    assert sim.calls() == []                                    # nothing was created
    call = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>")   # the retry
    assert [c["sid"] for c in sim.calls()] == [call.sid]
    faults = sim.faults()
    assert [(h["rule"], h["target"], h["status"], h["method"]) for h in faults["hits"]] == \
        [(rule["id"], "rest", 429, "POST")]
    assert faults["hits"][0]["path"].endswith("/Calls.json") and faults["hits"][0]["time"]
    assert {r["id"]: r["used"] for r in faults["rules"]} == {other["id"]: 0, rule["id"]: 1}
    assert [r.get("fault") for r in sim.requests() if r["method"] == "POST"] == [rule["id"], None]


def test_rest_500_and_503_on_update_leave_the_call_alone(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Pause length='30'/></Response>")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid
    sim.wait_for(lambda: sim.call(sid)["activity"] == "pause")
    sim.add_fault(target="rest", method="POST", path_contains="/Calls/", status=500, call_to="+14155550123")
    sim.add_fault(target="rest", method="POST", path_contains=f"/Calls/{sid}", status=503, code=20503)
    with pytest.raises(TwilioRestException) as exc:
        client.calls(sid).update(twiml="<Response><Say>Redirected</Say></Response>")
    assert (exc.value.status, exc.value.code) == (500, 20500)
    with pytest.raises(TwilioRestException) as exc:
        client.calls(sid).update(status="completed")
    assert (exc.value.status, exc.value.code) == (503, 20503)
    call = sim.call(sid)
    assert call["status"] == "in-progress" and call["activity"] == "pause"
    assert not any(h.get("text") == "Redirected" for h in sim.heard(sid))
    hits = sim.faults()["hits"]
    assert [(h["status"], h["call_sid"]) for h in hits] == [(500, sid), (503, sid)]
    client.calls(sid).update(twiml="<Response><Say>Redirected</Say></Response>")
    _done(sim, sid)
    assert any(h.get("text") == "Redirected" for h in sim.heard(sid))


# ----- status callback faults ------------------------------------------------------------------------

def test_status_callback_drop_once(sim, client, receiver):
    cb = receiver.on("/cb", "")
    rule = sim.add_fault(target="webhook", url_contains="/cb", action="drop", status="completed",
                         call_to="+14155550123", times=1)
    first = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb,
                                status_callback_event=ALL_EVENTS).sid
    _done(sim, first)
    sim.wait_for(lambda: _quiet(sim) and len(_statuses(receiver, "/cb", first)) == 3)
    assert _statuses(receiver, "/cb", first) == ["initiated", "ringing", "in-progress"]
    assert any(e["type"] == "webhook-dropped" for e in sim.timeline(first))
    hit = sim.faults()["hits"][0]
    assert (hit["rule"], hit["action"], hit["call_sid"], hit["callback_status"]) == \
        (rule["id"], "drop", first, "completed") and hit["url"] == cb
    second = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb).sid
    _done(sim, second)
    sim.wait_for(lambda: _statuses(receiver, "/cb", second) == ["completed"])


def test_status_callback_delay_arrives_out_of_order(sim, client, receiver):
    cb = receiver.on("/cb", "")
    sim.add_fault(target="webhook", url_contains="/cb", action="delay", seconds=1.0, status="ringing",
                  call_to="+14155550123")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb,
                              status_callback_event=ALL_EVENTS).sid
    sim.wait_for(lambda: len(_statuses(receiver, "/cb", sid)) == 4)
    hits = receiver.requests_to("/cb")
    assert [h["params"]["CallStatus"] for h in hits] == ["initiated", "in-progress", "completed", "ringing"]
    assert hits[-1]["params"]["SequenceNumber"] == "1"        # the receiver can tell it is stale
    assert hits[-1]["time"] - hits[0]["time"] >= 0.9


def test_status_callback_duplicate(sim, client, receiver):
    cb = receiver.on("/cb", "")
    sim.add_fault(target="webhook", url_contains="/cb", action="duplicate", seconds=0.1, status="completed")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb).sid
    sim.wait_for(lambda: len(_statuses(receiver, "/cb", sid)) == 2)
    a, b = receiver.requests_to("/cb")
    assert a["params"] == b["params"] and a["params"]["CallStatus"] == "completed"
    sent = [e.get("fault") for e in sim.timeline(sid) if e["type"] == "webhook" and e["url"] == cb]
    assert sent == [None, "duplicate"]
    assert [e["type"] for e in sim.timeline(sid) if e["type"].startswith("webhook-")] == ["webhook-duplicated"]


def test_conference_and_amd_callbacks_are_faulted_too(sim, client, receiver):
    conf_cb = receiver.on("/conf-cb", "")
    amd_cb = receiver.on("/amd", "")
    sim.add_fault(target="webhook", url_contains="/conf-cb", action="drop", status="participant-join",
                  call_to="+14155550123")
    sim.add_fault(target="webhook", url_contains="/amd", action="duplicate", seconds=0.05)
    url = receiver.on("/voice", "<Response><Dial><Conference statusCallback='/conf-cb' "
                                "statusCallbackEvent='join leave'>room</Conference></Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    caller = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(caller)["conference"] == "room")
    conf = client.conferences.list(friendly_name="room")[0]
    part = client.conferences(conf.sid).participants.create(
        from_=NUMBER, to="+14155550123", machine_detection="Enable", amd_status_callback=amd_cb)
    sim.wait_for(lambda: sim.call(part.call_sid)["activity"] == "in-conference")
    sim.wait_for(lambda: len(receiver.requests_to("/amd")) == 2)
    assert {h["params"]["AnsweredBy"] for h in receiver.requests_to("/amd")} == {"human"}
    sim.hangup(part.call_sid)
    _done(sim, part.call_sid)
    sim.hangup(caller)
    _done(sim, caller)
    sim.wait_for(lambda: _quiet(sim) and len(receiver.requests_to("/conf-cb")) == 3)
    seen = [(h["params"]["StatusCallbackEvent"], h["params"]["CallSid"]) for h in receiver.requests_to("/conf-cb")]
    assert ("participant-join", part.call_sid) not in seen and ("participant-join", caller) in seen


# ----- document request faults -----------------------------------------------------------------------

def test_dropped_action_leaves_the_call_in_silence_until_redirected(sim, client, receiver):
    url = receiver.on("/menu", "<Response><Gather numDigits='1' action='/picked' timeout='2'>"
                               "<Say>Press 1</Say></Gather></Response>")
    receiver.on("/picked", "<Response><Say>Picked</Say></Response>")
    rescue = receiver.on("/rescue", "<Response><Say>Rescued</Say></Response>")
    sim.add_fault(target="webhook", url_contains="/picked", action="drop", call_to="+14155550123")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-for-document")
    sim.wait_for(lambda: sim.heard(sid)[-1]["kind"] == "silence")
    assert sim.call(sid)["status"] == "in-progress" and not receiver.requests_to("/picked")
    client.calls(sid).update(url=rescue)
    _done(sim, sid)
    assert [h.get("text") for h in sim.heard(sid) if h["kind"] == "say"] == ["Press 1", "Rescued"]
    assert not receiver.requests_to("/picked")
    assert sim.faults()["hits"][0]["kind"] == "document"


def test_dropped_url_then_caller_hangs_up(sim, receiver):
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", "<Response><Say>Hi</Say></Response>"))
    sim.add_fault(target="webhook", url_contains="/voice", action="drop", call_from=CALLER)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-for-document")
    sim.hangup(sid)
    _done(sim, sid)
    assert not receiver.requests_to("/voice") and [h["kind"] for h in sim.heard(sid)] == ["silence"]


def test_delayed_redirect_is_requested_later_in_silence(sim, receiver):
    receiver.on("/next", "<Response><Say>Next</Say></Response>")
    sim.set_number(NUMBER, voice_url=receiver.on("/a", "<Response><Redirect>/next</Redirect></Response>"))
    sim.add_fault(target="webhook", url_contains="/next", action="delay", seconds=0.5)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    first, later = receiver.requests_to("/a")[0], receiver.requests_to("/next")[0]
    assert later["time"] - first["time"] >= 0.45
    heard = sim.heard(sid)
    assert [h["kind"] for h in heard] == ["silence", "say"] and heard[0]["seconds"] >= 0.45


def test_duplicated_url_request_second_answer_ignored(sim, client, receiver):
    count = []

    def answer(params):
        count.append(1)
        return f"<Response><Say>Answer {len(count)}</Say></Response>"

    url = receiver.on("/answer", answer)
    sim.add_fault(target="webhook", url_contains="/answer", action="duplicate", seconds=0.05)
    sid = client.calls.create(to="+14155550123", from_=NUMBER, url=url).sid
    sim.wait_for(lambda: len(receiver.requests_to("/answer")) == 2)
    _done(sim, sid)
    assert [h.get("text") for h in sim.heard(sid)] == ["Answer 1"]
    a, b = receiver.requests_to("/answer")
    assert a["params"]["CallSid"] == b["params"]["CallSid"] == sid


def test_dropped_wait_url_is_silence_until_the_conference_starts(sim, client, receiver):
    url = receiver.on("/voice", "<Response><Dial><Conference waitUrl='/wait'>hold-room</Conference></Dial></Response>")
    receiver.on("/wait", "<Response><Say>Please wait</Say></Response>")
    sim.add_fault(target="webhook", url_contains="/wait", action="drop", call_from=CALLER)
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-for-document")
    conf = client.conferences.list(friendly_name="hold-room")[0]
    client.conferences(conf.sid).participants.create(from_=NUMBER, to="+14155550123")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    assert not receiver.requests_to("/wait") and "silence" in [h["kind"] for h in sim.heard(sid)]
    sim.hangup(sid)


# ----- timing settings ---------------------------------------------------------------------------------

def test_callback_delay_keeps_order(sim, client, receiver):
    sim.settings(callback_delay=0.4)
    cb = receiver.on("/cb", "")
    sid = client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb,
                              status_callback_event=ALL_EVENTS).sid
    sim.wait_for(lambda: len(_statuses(receiver, "/cb", sid)) == 4)
    assert _statuses(receiver, "/cb", sid) == ["initiated", "ringing", "in-progress", "completed"]
    ended = [e["time"] for e in sim.timeline(sid) if e["type"] == "status" and e["status"] == "completed"][0]
    assert receiver.requests_to("/cb")[-1]["time"] - ended >= 0.35


def test_callback_jitter_reorders_but_sequence_numbers_tell(sim, client, receiver):
    sim.settings(callback_jitter=1.0)
    cb = receiver.on("/cb", "")
    sids = [client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback=cb,
                                status_callback_event=ALL_EVENTS).sid for _ in range(6)]
    sim.wait_for(lambda: len(receiver.requests_to("/cb")) == 24)
    orders = {sid: [h["params"]["SequenceNumber"] for h in receiver.requests_to("/cb")
                    if h["params"]["CallSid"] == sid] for sid in sids}
    assert all(sorted(o) == ["0", "1", "2", "3"] for o in orders.values())
    assert any(o != ["0", "1", "2", "3"] for o in orders.values()), orders


def test_settings_refuse_negative_timing(sim):
    with pytest.raises(SimClientError) as exc:
        sim.settings(callback_jitter=-1)
    assert exc.value.status == 400
    assert sim.settings()["callback_delay"] == 0 and sim.settings()["callback_jitter"] == 0


def test_slow_ringing_persona_sends_ringing_while_it_rings(sim, client, receiver):
    sim.add_persona({"address": "+14155550140", "name": "Slow", "kind": "human", "answer_after": 20})
    cb = receiver.on("/cb", "")
    sid = client.calls.create(to="+14155550140", from_=NUMBER, twiml="<Response/>", status_callback=cb,
                              status_callback_event=ALL_EVENTS, timeout=30).sid
    sim.wait_for(lambda: _statuses(receiver, "/cb", sid) == ["initiated", "ringing"])
    assert sim.call(sid)["status"] == "ringing" and sim.call(sid)["activity"] == "ringing"
    client.calls(sid).update(status="canceled")
    sim.wait_for(lambda: _statuses(receiver, "/cb", sid)[-1] == "canceled")

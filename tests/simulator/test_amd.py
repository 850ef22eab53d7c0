"""Answering machine detection on calls.create: synchronous verdicts, timeout, persona overrides, SendDigits."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import NUMBER

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")
VOICEMAIL, FAX, IVR, HUMAN = "+14155550128", "+14155550129", "+14155550130", "+14155550123"


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _answer_for(receiver, path, sid):
    hits = [h for h in receiver.requests_to(path) if h["params"]["CallSid"] == sid]
    return hits[0]["params"] if hits else None


@pytest.mark.parametrize("to,mode,answered_by,duration", [
    (HUMAN, "Enable", "human", "50"),
    (VOICEMAIL, "Enable", "machine_start", "50"),
    (VOICEMAIL, "DetectMessageEnd", "machine_end_beep", "100"),   # the persona's greeting_seconds
    (FAX, "Enable", "fax", "50"),
    (IVR, "DetectMessageEnd", "machine_start", "50"),
])
def test_sync_amd_verdicts(sim, client, receiver, to, mode, answered_by, duration):
    url = receiver.on("/answer", "<Response><Say>Hello</Say></Response>")
    sid = client.calls.create(to=to, from_=NUMBER, url=url, machine_detection=mode).sid
    _done(sim, sid)
    params = _answer_for(receiver, "/answer", sid)
    assert params["AnsweredBy"] == answered_by and params["MachineDetectionDuration"] == duration
    assert params["CallStatus"] == "in-progress"
    assert client.calls(sid).fetch().answered_by == answered_by
    heard = sim.heard(sid)
    assert heard[0]["kind"] == "silence" and heard[0]["detection"] == mode
    assert heard[0]["seconds"] >= int(duration) / 1000 - 0.01 and heard[1]["text"] == "Hello"


def test_sync_amd_timeout_gives_unknown(sim, client, receiver):
    sim.add_persona({"address": "+14155550141", "name": "Long greeting", "kind": "voicemail",
                     "answer_after": 0.05, "greeting_seconds": 20})
    url = receiver.on("/answer", "<Response><Hangup/></Response>")
    sid = client.calls.create(to="+14155550141", from_=NUMBER, url=url, machine_detection="DetectMessageEnd",
                              machine_detection_timeout=1).sid
    sim.wait_for(lambda: sim.call(sid)["activity"] == "detecting-machine")
    _done(sim, sid)
    params = _answer_for(receiver, "/answer", sid)
    assert params["AnsweredBy"] == "unknown" and params["MachineDetectionDuration"] == "1000"
    amd = [e for e in sim.timeline(sid) if e["type"] == "amd"][0]
    assert amd["answered_by"] == "unknown" and amd["seconds"] == 1.0


def test_persona_detected_as_and_detection_seconds(sim, client, receiver):
    sim.add_persona({"address": "+14155550142", "name": "Fooling box", "kind": "voicemail", "answer_after": 0.05,
                     "detected_as": "human", "detection_seconds": 0.3})
    sim.add_persona({"address": "+14155550143", "name": "Odd box", "kind": "voicemail", "answer_after": 0.05,
                     "detected_as": "unknown"})
    url = receiver.on("/answer", "<Response/>")
    fooled = client.calls.create(to="+14155550142", from_=NUMBER, url=url, machine_detection="DetectMessageEnd").sid
    odd = client.calls.create(to="+14155550143", from_=NUMBER, url=url, machine_detection="Enable").sid
    _done(sim, fooled)
    _done(sim, odd)
    assert (_answer_for(receiver, "/answer", fooled)["AnsweredBy"],
            _answer_for(receiver, "/answer", fooled)["MachineDetectionDuration"]) == ("human", "300")
    assert _answer_for(receiver, "/answer", odd)["AnsweredBy"] == "unknown"
    with pytest.raises(Exception):
        sim.add_persona({"address": "+14155550144", "kind": "voicemail", "detected_as": "robot"})


def test_send_digits_disables_machine_detection(sim, client, receiver):
    url = receiver.on("/answer", "<Response/>")
    sid = client.calls.create(to=IVR, from_=NUMBER, url=url, machine_detection="Enable", send_digits="123").sid
    _done(sim, sid)
    params = _answer_for(receiver, "/answer", sid)
    assert "AnsweredBy" not in params and "MachineDetectionDuration" not in params
    timeline = sim.timeline(sid)
    assert any(e["type"] == "amd-ignored" for e in timeline) and not any(e["type"] == "amd" for e in timeline)
    assert any(e["type"] == "ivr-route" and e["to"] == HUMAN for e in timeline)


def test_tuning_parameters_accepted_and_range_checked(sim, client):
    call = client.calls.create(to=HUMAN, from_=NUMBER, twiml="<Response/>", machine_detection="Enable",
                               machine_detection_timeout=30, machine_detection_speech_threshold=2400,
                               machine_detection_speech_end_threshold=1200,
                               machine_detection_silence_timeout=5000)
    _done(sim, call.sid)
    count = len(sim.calls())
    for name, value in (("machine_detection_speech_threshold", 999), ("machine_detection_speech_end_threshold", 5001),
                        ("machine_detection_silence_timeout", 1999), ("machine_detection_timeout", 0)):
        with pytest.raises(TwilioRestException) as exc:
            client.calls.create(to=HUMAN, from_=NUMBER, twiml="<Response/>", machine_detection="Enable",
                                **{name: value})
        spec_name = "".join(part.title() for part in name.split("_")).replace("Machinedetection", "MachineDetection")
        assert exc.value.status == 400 and spec_name in exc.value.msg, (name, exc.value.msg)
    assert len(sim.calls()) == count


def test_async_amd_honours_persona_and_timeout(sim, client, receiver):
    sim.add_persona({"address": "+14155550145", "name": "Slow detect", "kind": "voicemail", "answer_after": 0.05,
                     "detection_seconds": 5})
    sim.add_persona({"address": "+14155550146", "name": "Forced", "kind": "human", "answer_after": 0.05,
                     "detected_as": "machine_end_other", "detection_seconds": 0.1})
    receiver.on("/amd", "")
    url = receiver.on("/answer", "<Response><Pause length='3'/></Response>")
    slow = client.calls.create(to="+14155550145", from_=NUMBER, url=url, machine_detection="Enable",
                               machine_detection_timeout=1, async_amd="true",
                               async_amd_status_callback=receiver.url + "/amd").sid
    forced = client.calls.create(to="+14155550146", from_=NUMBER, url=url, machine_detection="Enable",
                                 async_amd="true", async_amd_status_callback=receiver.url + "/amd").sid
    sim.wait_for(lambda: _answer_for(receiver, "/amd", slow) and _answer_for(receiver, "/amd", forced))
    assert (_answer_for(receiver, "/amd", slow)["AnsweredBy"],
            _answer_for(receiver, "/amd", slow)["MachineDetectionDuration"]) == ("unknown", "1000")
    assert _answer_for(receiver, "/amd", forced)["AnsweredBy"] == "machine_end_other"
    assert "AnsweredBy" not in _answer_for(receiver, "/answer", slow)   # async: the Url request does not wait
    client.calls(slow).update(status="completed")
    client.calls(forced).update(status="completed")


def test_voicemail_hears_everything_and_never_presses(sim, client, receiver):
    sim.add_persona({"address": "+14155550147", "name": "Voicemail with a press", "kind": "voicemail",
                     "answer_after": 0.05, "greeting_seconds": 0.1, "press": "1"})
    url = receiver.on("/answer", "<Response><Gather numDigits='1' timeout='1' action='/pressed'>"
                                 "<Say>Press 1 to talk to us</Say></Gather>"
                                 "<Say>Sorry we missed you</Say><Play>http://x/tone.mp3</Play></Response>")
    receiver.on("/pressed", "<Response/>")
    sid = client.calls.create(to="+14155550147", from_=NUMBER, url=url, machine_detection="DetectMessageEnd").sid
    _done(sim, sid)
    heard = sim.heard(sid)
    assert [h["kind"] for h in heard] == ["silence", "say", "say", "play"]
    assert all(h["party"] == "+14155550147" for h in heard)
    assert [h.get("text") for h in heard[1:3]] == ["Press 1 to talk to us", "Sorry we missed you"]
    assert not receiver.requests_to("/pressed")
    assert not any(e["type"] == "digits" for e in sim.timeline(sid))

"""<Dial> with Number/Sip/Client: whisper, screening, outcomes, Dial action params, AMD, IVR, Refer."""

from conftest import CALLER, NUMBER

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _legs(sim, parent):
    return [c for c in sim.calls() if c["parent_call_sid"] == parent]


def _screened_dial(receiver, to):
    receiver.on("/whisper", "<Response><Gather numDigits='1' action='/screen' timeout='2'>"
                            "<Say>Call from Handoff, press 1 to accept</Say></Gather><Hangup/></Response>")
    receiver.on("/screen", lambda p: "<Response/>" if p.get("Digits") == "1" else "<Response><Hangup/></Response>")
    receiver.on("/dial-done", "<Response><Say>Dial finished</Say></Response>")
    return receiver.on("/voice", "<Response><Say>Please hold</Say><Dial action='/dial-done' timeout='5' "
                                 f"callerId='{NUMBER}'><Number url='/whisper' statusCallback='/leg-cb' "
                                 f"statusCallbackEvent='initiated ringing answered completed'>{to}</Number>"
                                 "</Dial></Response>")


def test_dial_whisper_accept_bridge_then_callee_hangs_up(sim, receiver):
    receiver.on("/leg-cb", "")
    sim.set_number(NUMBER, voice_url=_screened_dial(receiver, "+14155550123"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    leg = _legs(sim, sid)[0]
    assert sim.call(sid)["bridged_with"] == leg["sid"] and leg["from"] == NUMBER
    whisper = [h for h in sim.heard(leg["sid"]) if h["kind"] == "whisper"]
    assert whisper and whisper[0]["text"].startswith("Call from Handoff")
    sim.hangup(leg["sid"])
    _done(sim, sid)
    done = receiver.requests_to("/dial-done")[0]["params"]
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == leg["sid"]
    assert done["DialBridged"] == "true" and "DialCallDuration" in done
    kinds = [h["kind"] for h in sim.heard(sid)]
    assert kinds[:2] == ["say", "bridged"] and sim.heard(sid)[-1]["text"] == "Dial finished"
    sim.wait_for(lambda: len(receiver.requests_to("/leg-cb")) == 4)
    assert [h["params"]["CallStatus"] for h in receiver.requests_to("/leg-cb")] == \
        ["initiated", "ringing", "in-progress", "completed"]
    assert receiver.requests_to("/leg-cb")[0]["params"]["ParentCallSid"] == sid


def test_dial_whisper_declined(sim, receiver):
    sim.set_number(NUMBER, voice_url=_screened_dial(receiver, "+14155550124"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    done = receiver.requests_to("/dial-done")[0]["params"]
    assert done["DialCallStatus"] == "no-answer" and done["DialBridged"] == "false"


def test_dial_outcomes(sim, receiver):
    receiver.on("/done", "<Response/>")
    for to, expected in (("+14155550125", "no-answer"), ("+14155550126", "busy"), ("+14155550127", "failed"),
                         ("+19995550000", "failed")):
        url = receiver.on("/voice", f"<Response><Dial action='/done' timeout='1'>{to}</Dial></Response>")
        sim.set_number(NUMBER, voice_url=url)
        sid = sim.place_call(from_=CALLER, to=NUMBER)
        _done(sim, sid)
        assert receiver.requests_to("/done")[-1]["params"]["DialCallStatus"] == expected, to


def test_dial_invalid_number_records_13224(sim, receiver):
    receiver.on("/done", "<Response/>")
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", "<Response><Dial action='/done'><Number>12ab</Number></Dial></Response>"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert any(e["code"] == 13224 for e in sim.errors())
    assert receiver.requests_to("/done")[0]["params"]["DialCallStatus"] == "failed"


def test_dial_sip_with_headers_and_client(sim, receiver):
    url = receiver.on("/voice", "<Response><Dial timeout='3' answerOnBridge='true'>"
                                "<Sip username='u' password='p'>sip:alice@example.com?X-Handoff=abc</Sip>"
                                "</Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "dialing")
    assert sim.call(sid)["status"] == "ringing"   # answerOnBridge: not answered until the leg answers
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    assert sim.call(sid)["status"] == "in-progress"
    leg = _legs(sim, sid)[0]
    assert leg["to"] == "sip:alice@example.com"
    dialed = [e for e in sim.timeline(leg["sid"]) if e["type"] == "dialed"][0]
    assert dialed["sip_headers"] == {"X-Handoff": "abc"} and dialed["sip_username"] == "u"
    sim.hangup(sid)
    _done(sim, sid)
    assert _done(sim, leg["sid"])["status"] == "completed"
    url = receiver.on("/voice", "<Response><Dial><Client><Identity>agent1</Identity></Client></Dial></Response>")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    assert _legs(sim, sid)[0]["to"] == "client:agent1"
    sim.hangup(sid)


def test_hangup_on_star_and_time_limit(sim, receiver):
    receiver.on("/after", "<Response><Say>Back</Say></Response>")
    url = receiver.on("/voice", "<Response><Dial hangupOnStar='true' action='/after'>+14155550123</Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    assert sim.press(sid, "*")
    _done(sim, sid)
    assert receiver.requests_to("/after")[0]["params"]["DialCallStatus"] == "completed"
    receiver.on("/voice", "<Response><Dial timeLimit='1'>+14155550123</Dial></Response>")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    call = _done(sim, sid)
    assert call["status"] == "completed"


def test_callee_persona_hangs_up_after(sim, receiver):
    receiver.on("/after", "<Response/>")
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", "<Response><Dial action='/after'>+14155550131</Dial></Response>"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert receiver.requests_to("/after")[0]["params"]["DialCallStatus"] == "completed"


def test_ivr_send_digits_routes_to_extension(sim, receiver):
    url = receiver.on("/voice", "<Response><Dial><Number sendDigits='123'>+14155550130</Number></Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    leg = _legs(sim, sid)[0]
    assert any(e["type"] == "ivr-route" and e["to"] == "+14155550123" for e in sim.timeline(leg["sid"]))
    sim.hangup(sid)


def test_caller_hangs_up_while_ringing_cancels_leg_and_requests_action(sim, receiver):
    receiver.on("/after", "<Response/>")
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", "<Response><Dial action='/after' timeout='5'>+14155550125</Dial></Response>"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: _legs(sim, sid) and _legs(sim, sid)[0]["status"] == "ringing")
    sim.hangup(sid)
    leg = _legs(sim, sid)[0]
    assert _done(sim, leg["sid"])["status"] == "canceled"
    sim.wait_for(lambda: receiver.requests_to("/after"))
    assert receiver.requests_to("/after")[0]["params"]["DialCallStatus"] == "canceled"


def test_amd_sync_and_async(sim, client, receiver):
    url = receiver.on("/answer", "<Response><Say>Message</Say></Response>")
    sid = client.calls.create(to="+14155550128", from_=NUMBER, url=url, machine_detection="DetectMessageEnd").sid
    _done(sim, sid)
    assert receiver.requests_to("/answer")[0]["params"]["AnsweredBy"] == "machine_end_beep"
    assert receiver.requests_to("/answer")[0]["params"]["MachineDetectionDuration"] == "100"
    receiver.on("/amd", "")
    for to, expected in (("+14155550123", "human"), ("+14155550129", "fax"), ("+14155550128", "machine_start")):
        sid = client.calls.create(to=to, from_=NUMBER, twiml="<Response><Pause length='1'/></Response>",
                                  machine_detection="Enable", async_amd="true",
                                  async_amd_status_callback=receiver.url + "/amd")
        sim.wait_for(lambda: any(h["params"]["CallSid"] == sid.sid for h in receiver.requests_to("/amd")))
        hit = [h for h in receiver.requests_to("/amd") if h["params"]["CallSid"] == sid.sid][0]
        assert hit["params"]["AnsweredBy"] == expected and "MachineDetectionDuration" in hit["params"]


def test_number_machine_detection(sim, receiver):
    receiver.on("/amd", "")
    url = receiver.on("/voice", "<Response><Dial><Number machineDetection='DetectMessageEnd' "
                                "amdStatusCallback='/amd'>+14155550128</Number></Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: receiver.requests_to("/amd"))
    assert receiver.requests_to("/amd")[0]["params"]["AnsweredBy"] == "machine_end_beep"
    sim.hangup(sid)


def test_refer_on_sip_call_and_error_on_pstn(sim, receiver):
    receiver.on("/refer-done", "<Response><Say>Refer failed</Say></Response>")
    url = receiver.on("/voice", "<Response><Refer action='/refer-done'><Sip>sip:alice@example.com</Sip></Refer></Response>")
    sim.set_number("sip:support@handoff.sip.twilio.com", voice_url=url)
    sid = sim.place_call(from_="sip:caller@example.org", to="sip:support@handoff.sip.twilio.com", sip=True)
    _done(sim, sid)
    params = receiver.requests_to("/refer-done")[0]["params"]
    assert params["ReferCallStatus"] == "completed" and params["ReferSipResponseCode"] == "202"
    receiver.on("/voice", "<Response><Refer action='/refer-done'><Sip>sip:nobody@example.com</Sip></Refer></Response>")
    sid = sim.place_call(from_="sip:caller@example.org", to="sip:support@handoff.sip.twilio.com", sip=True)
    _done(sim, sid)
    assert receiver.requests_to("/refer-done")[-1]["params"]["ReferCallStatus"] == "failed"
    assert sim.heard(sid)[-1]["text"] == "Refer failed"
    sim.set_number(NUMBER, voice_url=url)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert any(e["code"] == 13801 and e["call_sid"] == sid for e in sim.errors())
    assert "application error" in sim.heard(sid)[-1]["text"]

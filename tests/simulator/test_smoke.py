from conftest import CALLER, NUMBER


def test_inbound_say_and_hangup(sim, receiver):
    url = receiver.on("/voice", "<Response><Say>Hello there</Say><Hangup/></Response>")
    status = receiver.on("/status", "")
    sim.set_number(NUMBER, voice_url=url, status_callback=status)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["status"] == "completed")
    assert [h["text"] for h in sim.heard(sid) if h["kind"] == "say"] == ["Hello there"]
    sim.wait_for(lambda: receiver.requests_to("/status"))
    assert receiver.requests_to("/status")[0]["params"]["CallStatus"] == "completed"

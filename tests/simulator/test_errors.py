"""Error paths: 12100, 12200, 12300, 11200, 11205, fallback URL, the application-error message."""

import time

from conftest import CALLER, NUMBER

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _app_error(sim, sid):
    heard = sim.heard(sid)
    return heard and "application error" in heard[-1]["text"]


def _run(sim, receiver, route, *, fallback=False):
    receiver.on("/fallback", "<Response><Say>Fallback here</Say></Response>")
    url = receiver.on("/voice", route)
    sim.set_number(NUMBER, voice_url=url, voice_fallback_url=receiver.url + "/fallback" if fallback else None)
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    return sid


def test_unparseable_twiml_12100(sim, receiver):
    sid = _run(sim, receiver, "<Response><Say>oops</Response>")
    assert any(e["code"] == 12100 and e["call_sid"] == sid for e in sim.errors())
    assert _app_error(sim, sid)


def test_unknown_verb_12100_and_unknown_attribute_12200(sim, receiver):
    sid = _run(sim, receiver, "<Response><Dance/></Response>")
    assert any(e["code"] == 12100 and e["call_sid"] == sid for e in sim.errors())
    sid = _run(sim, receiver, "<Response><Say voyce='alice'>Hi</Say></Response>")
    err = [e for e in sim.errors() if e["call_sid"] == sid][0]
    assert err["code"] == 12200 and "voyce" in err["message"]


def test_wrong_content_type_12300(sim, receiver):
    sid = _run(sim, receiver, ("<Response/>", 200, "application/json"))
    assert any(e["code"] == 12300 for e in sim.errors()) and _app_error(sim, sid)


def test_http_error_11200_goes_to_fallback(sim, receiver):
    sid = _run(sim, receiver, ("boom", 500, "text/plain"), fallback=True)
    assert any(e["code"] == 11200 and e["call_sid"] == sid for e in sim.errors())
    fb = receiver.requests_to("/fallback")[0]["params"]
    assert fb["ErrorCode"] == "11200" and fb["ErrorUrl"].endswith("/voice")
    assert sim.heard(sid)[-1]["text"] == "Fallback here"


def test_timeout_11205(sim, receiver):
    sim.settings(webhook_timeout=0.2)

    def slow(params):
        time.sleep(0.6)
        return "<Response/>"

    sid = _run(sim, receiver, slow)
    assert any(e["code"] == 11205 and e["call_sid"] == sid for e in sim.errors())
    assert _app_error(sim, sid)


def test_connection_refused_11205(sim):
    sim.set_number(NUMBER, voice_url="http://127.0.0.1:9/nowhere")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    _done(sim, sid)
    assert any(e["code"] == 11205 for e in sim.errors()) and _app_error(sim, sid)


def test_control_api_errors(sim):
    import pytest
    from simulator.testing import SimClientError

    with pytest.raises(SimClientError) as exc:
        sim.place_call(from_=CALLER, to="+19999999999")
    assert exc.value.status == 404
    with pytest.raises(SimClientError):
        sim.call("CA" + "0" * 32)
    with pytest.raises(SimClientError):
        sim.add_persona({"address": "+1", "kind": "robot"})

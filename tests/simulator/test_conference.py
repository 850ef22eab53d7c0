"""Conferences: <Dial><Conference>, participants REST, wait/hold audio, events, end rules."""

import pytest
from twilio.base.exceptions import TwilioRestException

from conftest import CALLER, NUMBER

FINAL = ("completed", "busy", "failed", "no-answer", "canceled")


def _done(sim, sid):
    sim.wait_for(lambda: sim.call(sid)["status"] in FINAL, message=f"call {sid} ended")
    return sim.call(sid)


def _caller_in_conference(sim, receiver, name="room1", extra=""):
    receiver.on("/conf-events", "")
    receiver.on("/wait", "<Response><Say>Please hold</Say><Play>http://x/music.mp3</Play></Response>")
    receiver.on("/after", "<Response><Say>Conference over</Say></Response>")
    url = receiver.on("/voice", f"<Response><Dial action='/after'><Conference waitUrl='/wait' "
                                "statusCallback='/conf-events' statusCallbackEvent='start end join leave mute hold modify announcement' "
                                f"participantLabel='customer' {extra}>{name}</Conference></Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    return sim.place_call(from_=CALLER, to=NUMBER)


def test_caller_waits_then_agent_joins_via_rest_and_leaves(sim, client, receiver):
    sid = _caller_in_conference(sim, receiver)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-in-conference")
    sim.wait_for(lambda: any(h["kind"] == "music" for h in sim.heard(sid)))
    conf = client.conferences.list(friendly_name="room1", status="init")[0]
    assert conf.status == "init"
    p = client.conferences("room1").participants.create(from_=NUMBER, to="+14155550123", label="agent",
                                                        end_conference_on_exit=True)
    assert p.call_sid.startswith("CA") and p.conference_sid == conf.sid
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    assert client.conferences(conf.sid).fetch().status == "in-progress"
    assert sim.call(sid)["conference"] == "room1"
    heard = sim.heard(sid)
    assert heard[0]["kind"] == "say" and heard[0]["text"] == "Please hold"
    assert any(h["kind"] == "beep" for h in heard)
    parts = client.conferences(conf.sid).participants.list()
    assert {x.label for x in parts} == {"customer", "agent"}
    assert client.conferences(conf.sid).participants("agent").fetch().call_sid == p.call_sid
    # Hold the customer with hold music, then unhold.
    client.conferences(conf.sid).participants("customer").update(hold=True, hold_url="http://x/hold.mp3")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "on-hold")
    client.conferences(conf.sid).participants(sid).update(hold=False, muted=True)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    client.conferences(conf.sid).participants("agent").update(coaching=True, call_sid_to_coach=sid)
    # The agent (endConferenceOnExit) leaves: conference ends, caller continues to the Dial action.
    client.conferences(conf.sid).participants("agent").delete()
    _done(sim, sid)
    assert sim.heard(sid)[-1]["text"] == "Conference over"
    ended = client.conferences(conf.sid).fetch()
    assert ended.status == "completed" and ended.reason_conference_ended == "participant-with-end-conference-on-exit-kicked"
    sim.wait_for(lambda: any(h["params"]["StatusCallbackEvent"] == "conference-end"
                             for h in receiver.requests_to("/conf-events")))
    events = [h["params"] for h in receiver.requests_to("/conf-events")]
    names = [e["StatusCallbackEvent"] for e in events]
    for expected in ("participant-join", "conference-start", "participant-hold", "participant-unhold",
                     "participant-mute", "participant-modify", "participant-leave", "conference-end"):
        assert expected in names, (expected, names)
    join = next(e for e in events if e["StatusCallbackEvent"] == "participant-join")
    assert join["ParticipantLabel"] == "customer" and join["FriendlyName"] == "room1" and join["ConferenceSid"] == conf.sid
    assert {"Hold", "Muted", "Coaching", "EndConferenceOnExit", "StartConferenceOnEnter", "SequenceNumber",
            "Timestamp"} <= set(join)
    end = next(e for e in events if e["StatusCallbackEvent"] == "conference-end")
    assert end["ReasonConferenceEnded"] == "participant-with-end-conference-on-exit-kicked"
    assert end["CallSidEndingConference"] == p.call_sid


def test_caller_hangs_up_while_waiting(sim, client, receiver):
    receiver.on("/voice", "<Response><Dial><Conference waitUrl=''>quiet</Conference></Dial></Response>")
    sim.set_number(NUMBER, voice_url=receiver.url + "/voice")
    sid = sim.place_call(from_="+14155550132", to=NUMBER)   # hangs up after 0.3 s of wait audio
    call = _done(sim, sid)
    assert call["status"] == "completed"
    assert any(h["kind"] == "silence" for h in sim.heard(sid))
    conf = client.conferences.list(friendly_name="quiet")[0]
    assert conf.status == "completed" and conf.reason_conference_ended == "last-participant-left"


def test_end_via_api_and_announce(sim, client, receiver):
    sid = _caller_in_conference(sim, receiver, name="room2")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-in-conference")
    conf_sid = client.conferences.list(friendly_name="room2")[0].sid
    agent = client.conferences(conf_sid).participants.create(from_=NUMBER, to="+14155550123")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    receiver.on("/announce", "<Response><Say>Recording starts now</Say></Response>")
    client.conferences(conf_sid).update(announce_url=receiver.url + "/announce")
    sim.wait_for(lambda: any(h["kind"] == "announce" for h in sim.heard(sid)))
    client.conferences(conf_sid).update(status="completed")
    _done(sim, sid)
    _done(sim, agent.call_sid)
    assert client.conferences(conf_sid).fetch().reason_conference_ended == "conference-ended-via-api"


def test_end_conference_on_exit_from_twiml(sim, client, receiver):
    sid = _caller_in_conference(sim, receiver, name="room3", extra="endConferenceOnExit='true'")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-in-conference")
    conf_sid = client.conferences.list(friendly_name="room3")[0].sid
    agent = client.conferences(conf_sid).participants.create(from_=NUMBER, to="+14155550123")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    sim.hangup(sid)
    _done(sim, agent.call_sid)
    conf = client.conferences(conf_sid).fetch()
    assert conf.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert conf.call_sid_ending_conference == sid


def test_start_conference_on_enter_false_keeps_waiting(sim, client, receiver):
    sid = _caller_in_conference(sim, receiver, name="room4", extra="startConferenceOnEnter='false'")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-in-conference")
    client.conferences("room4").participants.create(from_=NUMBER, to="+14155550123", start_conference_on_enter=False)
    sim.wait_for(lambda: len(client.conferences.list(friendly_name="room4")[0].participants.list()) == 2)
    assert sim.call(sid)["activity"] == "waiting-in-conference"
    client.conferences("room4").participants.create(from_=NUMBER, to="sip:alice@example.com")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "in-conference")
    sim.hangup(sid)


def test_participant_to_busy_number_and_unknown_conference(sim, client, receiver):
    sid = _caller_in_conference(sim, receiver, name="room5")
    sim.wait_for(lambda: sim.call(sid)["activity"] == "waiting-in-conference")
    p = client.conferences("room5").participants.create(from_=NUMBER, to="+14155550126")
    assert _done(sim, p.call_sid)["status"] == "busy"
    assert sim.call(sid)["activity"] == "waiting-in-conference"
    with pytest.raises(TwilioRestException) as exc:
        client.conferences("CF" + "0" * 32).participants.create(from_=NUMBER, to="+14155550123")
    assert exc.value.code == 20404
    with pytest.raises(TwilioRestException) as exc:
        client.conferences("room5").participants("nobody").fetch()
    assert exc.value.code == 20404
    sim.hangup(sid)

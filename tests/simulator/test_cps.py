"""The account's calls-per-second limit: REST-created calls beyond it stay queued, then ring their full Timeout."""

import pytest

from conftest import CALLER, NUMBER

NOBODY = "+14155550125"       # a no-answer persona: rings until the call's Timeout
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")


@pytest.fixture
def one_cps(sim):
    sim.settings(cps=1)
    yield
    sim.settings(cps=0)


def _status_times(sim, sid):
    """Each status the call reached -> when (the simulator's timeline)."""
    return {e["status"]: e["time"] for e in sim.timeline(sid) if e["type"] == "status"}


def _created(sim, sid):
    return next(e["time"] for e in sim.timeline(sid) if e["type"] == "created")


def test_calls_beyond_the_cps_stay_queued_then_ring_their_full_timeout(sim, client, receiver, one_cps):
    url = receiver.on("/answer", "<Response/>")
    cb = receiver.on("/cb", "")
    calls = [client.calls.create(to=NOBODY, from_=NUMBER, url=url, timeout=1, status_callback=cb,
                                 status_callback_event=["initiated", "ringing", "answered", "completed"])
             for _ in range(5)]
    sids = [c.sid for c in calls]
    # Twilio answers at once: the later calls are queued, with the estimated wait in milliseconds.
    assert [c.status for c in calls[1:]] == ["queued"] * 4
    estimates = [int(c.queue_time) for c in calls]
    assert estimates[0] < 200
    for k in range(1, 5):
        assert 1000 * k - 300 <= estimates[k] <= 1000 * k + 100, estimates
    assert client.calls(sids[-1]).fetch().status == "queued"
    assert not [h for h in receiver.requests_to("/cb") if h["params"]["CallSid"] == sids[-1]]

    sim.wait_for(lambda: all(sim.call(s)["status"] in ENDED for s in sids), timeout=15)
    starts = []
    for k, sid in enumerate(sids):
        times = _status_times(sim, sid)
        assert times.keys() >= {"initiated", "ringing", "no-answer"}
        starts.append(times["initiated"])
        assert times["initiated"] - _created(sim, sid) >= k * 1.0 - 0.3
        # The Timeout counts from ringing, not from the request: every call rang its full second.
        assert times["no-answer"] - times["ringing"] >= 1.0 - 0.05
        fetched = client.calls(sid).fetch()
        assert abs(int(fetched.queue_time) - 1000 * (times["initiated"] - _created(sim, sid))) <= 150
    assert all(b - a >= 0.9 for a, b in zip(starts, starts[1:])), starts
    # The first callback of each call is 'initiated', sent only once it left the queue.
    for sid, start in zip(sids, starts):
        hits = [h for h in receiver.requests_to("/cb") if h["params"]["CallSid"] == sid]
        assert [h["params"]["CallStatus"] for h in hits] == ["initiated", "ringing", "no-answer"]
        assert hits[0]["time"] >= start - 0.05
        assert "QueueTime" not in hits[0]["params"]


def test_a_canceled_queued_call_lets_the_next_one_move_up(sim, client, receiver, one_cps):
    url = receiver.on("/answer", "<Response/>")
    sids = [client.calls.create(to=NOBODY, from_=NUMBER, url=url, timeout=1).sid for _ in range(3)]
    assert client.calls(sids[1]).update(status="canceled").status == "canceled"
    sim.wait_for(lambda: all(sim.call(s)["status"] in ENDED for s in sids), timeout=10)
    assert "initiated" not in _status_times(sim, sids[1])
    # The third call took the second one's turn: about 1 s after the first, not 2 s.
    gap = _status_times(sim, sids[2])["initiated"] - _status_times(sim, sids[0])["initiated"]
    assert 0.8 <= gap < 1.6, gap


def test_participants_are_queued_too_but_dial_legs_never(sim, client, receiver, one_cps):
    receiver.on("/leg-cb", "")
    url = receiver.on("/voice", "<Response><Dial timeout='1'>"
                                + "".join(f"<Number statusCallback='/leg-cb' statusCallbackEvent='initiated'>{n}</Number>"
                                          for n in (NOBODY, "+14155550123", "+14155550124"))
                                + "</Dial></Response>")
    sim.set_number(NUMBER, voice_url=url)
    first = client.calls.create(to=NOBODY, from_=NUMBER, url=url, timeout=1)     # takes this second's slot
    part = client.conferences("cps-room").participants.create(from_=NUMBER, to=NOBODY, timeout=1)
    assert 700 <= int(part.queue_time) <= 1100
    assert client.calls(part.call_sid).fetch().status == "queued"
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: len(receiver.requests_to("/leg-cb")) == 3)
    legs = [c for c in sim.calls() if c["parent_call_sid"] == sid]
    assert len(legs) == 3 and all(int(client.calls(leg["sid"]).fetch().queue_time) == 0 for leg in legs)
    initiated = [_status_times(sim, leg["sid"])["initiated"] for leg in legs]
    assert max(initiated) - min(initiated) < 0.5      # all at once, whatever the CPS
    sim.wait_for(lambda: all(sim.call(s)["status"] in ENDED for s in (first.sid, part.call_sid)), timeout=10)


def test_cps_is_a_run_time_setting(sim, client, receiver):
    assert sim.settings()["cps"] == 0          # TEST_SETTINGS: no limit
    url = receiver.on("/answer", "<Response/>")
    assert {client.calls.create(to=NOBODY, from_=NUMBER, url=url, timeout=1).queue_time for _ in range(3)} == {"0"}
    assert sim.settings(cps=2)["cps"] == 2
    calls = [client.calls.create(to=NOBODY, from_=NUMBER, url=url, timeout=1) for _ in range(3)]
    assert 700 <= int(calls[2].queue_time) <= 1600          # 2 per second: the third waits 1 to 1.5 s
    with pytest.raises(Exception):
        sim.settings(cps=-1)
    sim.settings(cps=0)   # the waiting calls go at once
    sim.wait_for(lambda: all(sim.call(c.sid)["status"] != "queued" for c in calls), timeout=2)

"""Twilio's calls-per-second limit: a warm group's legs wait `queued` before they ring, and each still
gets its full ring time (the attempt's deadline counts from a leg's ringing, never from the dial request).

At 1 CPS a lone group of five rings its last leg 4 s after the dial request, inside the old 5 s grace;
a burst makes it worse: calls already waiting in the account's queue (other transfers' legs, say)
push the group's legs later, as here. Three calls ahead are within the first deadline's allowance for
queueing; eight are beyond it, so only the legs' `ringing` re-arming the deadline keeps them ringing.
"""
import pytest
from twilio.rest import Client

from handoff.config import Config, ConfigError
from handoff.transfer.warm import MAX_QUEUE_WAIT, queue_allowance
from tests.conftest import ACCOUNT_SID, AGENT_NUMBER, AUTH_TOKEN
from tests.service.test_config import GOOD

MEMBERS = [f"+1415555021{i}" for i in range(5)]       # the quintet group (tests/fixtures/recipients.yaml)
TIMEOUT = 2                                            # the quintet's ring timeout
BUSY_ACCOUNT = "+14155550219"                          # rings unanswered: the calls ahead in the queue
ENDED = ("completed", "busy", "failed", "no-answer", "canceled")


@pytest.fixture
def one_cps(sim):
    """The account places one call per second (Twilio's default), with calls already waiting in its queue."""
    sim.settings(cps=1)
    sim.add_persona({"address": BUSY_ACCOUNT, "kind": "no-answer"})
    rest = Client(ACCOUNT_SID, AUTH_TOKEN)
    rest.api.base_url = sim.url
    ahead = []

    def burst(count: int = 3) -> None:
        ahead.extend(rest.calls.create(to=BUSY_ACCOUNT, from_=AGENT_NUMBER, twiml="<Response/>", timeout=1).sid
                     for _ in range(count))

    yield burst
    sim.clear_faults()
    sim.settings(cps=0)
    sim.wait_for(lambda: all(sim.call(sid)["status"] in ENDED for sid in ahead), timeout=10, message="burst over")


def _member_legs(sim, transfer):
    """The transfer's leg to each member, in the group's order."""
    mine = {e.get("leg") for e in transfer["timeline"] if e["event"] == "leg-dialed"}
    legs = {c["to"]: c["sid"] for c in sim.calls() if c["sid"] in mine}
    return [legs[m] for m in MEMBERS]


def _times(sim, sid):
    """When the leg was created and reached each status (the simulator's timeline)."""
    timeline = sim.timeline(sid)
    times = {e["status"]: e["time"] for e in timeline if e["type"] == "status"}
    times["created"] = next(e["time"] for e in timeline if e["type"] == "created")
    return times


def _start(api, phone, sim, burst, personas, ahead=3):
    for number, persona in zip(MEMBERS, personas):
        sim.add_persona({"address": number, **persona})
    caller = phone()
    burst(ahead)
    return api("post", f"/api/calls/{caller}/transfers", json={"to": "quintet"}).get_json()


def test_every_member_of_a_queued_group_rings_its_full_timeout(sim, phone, api, wait_transfer, one_cps):
    transfer = _start(api, phone, sim, one_cps, [{"kind": "no-answer"}] * 5, ahead=8)
    done = wait_transfer(transfer["id"], timeout=40)
    assert done["outcome"] == "transfer-failed-timeout"
    legs = _member_legs(sim, done)
    sim.wait_for(lambda: all(sim.call(sid)["status"] in ENDED for sid in legs), timeout=10, message="legs ended")
    times = [_times(sim, sid) for sid in legs]
    # Twilio queued them (the premise): the last rang about 11 s after it was dialed, nearly the whole
    # first deadline (ring timeout + 5 s grace + 5 turns of queueing), so it rang past that deadline...
    assert times[-1]["ringing"] - times[-1]["created"] > TIMEOUT + 8
    for member, t in zip(MEMBERS, times):
        # ...and yet each one rang until its own Timeout, never cut short by our deadline.
        assert t.get("no-answer"), (member, sim.call(legs[MEMBERS.index(member)])["status"])
        assert t["no-answer"] - t["ringing"] >= TIMEOUT - 0.1, member


def test_the_last_queued_member_answering_late_in_its_ring_gets_the_call(sim, phone, api, wait_transfer, one_cps):
    late = {"kind": "human", "answer_after": TIMEOUT - 0.5, "press": "accept", "press_after": 0.05}
    transfer = _start(api, phone, sim, one_cps, [{"kind": "no-answer"}] * 4 + [late])
    done = wait_transfer(transfer["id"], lambda t: t["outcome"], timeout=30)
    assert done["outcome"] == "transfer-success", [e["event"] for e in done["timeline"]]
    winner = _times(sim, _member_legs(sim, done)[-1])
    # It answered later than a ring timeout (and the grace) after its dial request, within its own ring.
    assert winner["in-progress"] - winner["created"] > TIMEOUT + 5
    assert winner["in-progress"] - winner["ringing"] < TIMEOUT


def test_lost_status_callbacks_still_end_the_attempt_after_every_full_ring(sim, phone, api, wait_transfer, one_cps):
    for number in MEMBERS:     # no ringing, no no-answer: only our deadline can end the attempt
        sim.add_fault(target="webhook", url_contains="/leg-status", action="drop", call_to=number)
    transfer = _start(api, phone, sim, one_cps, [{"kind": "no-answer"}] * 5)
    done = wait_transfer(transfer["id"], timeout=40)
    assert done["outcome"] == "transfer-failed-timeout"
    assert not any(e["event"] == "leg-ringing" for e in done["timeline"])
    legs = _member_legs(sim, done)
    sim.wait_for(lambda: all(sim.call(sid)["status"] in ENDED for sid in legs), timeout=10, message="legs ended")
    for member, sid in zip(MEMBERS, legs):
        t = _times(sim, sid)
        assert t.get("no-answer") and t["no-answer"] - t["ringing"] >= TIMEOUT - 0.1, (member, t)


def test_a_queue_longer_than_the_allowance_is_waited_out_as_twilio_reports_it(sim, phone, api, wait_transfer,
                                                                              one_cps):
    """Twelve calls ahead queue the group past its first deadline (timeout + grace + five turns), and
    every ringing callback is lost: only the queue_time Twilio answers each leg's creation with can
    keep the attempt waiting, and the last member, who answers late in its own ring, gets the call."""
    for number in MEMBERS:
        sim.add_fault(target="webhook", url_contains="/leg-status", action="drop", call_to=number)
    late = {"kind": "human", "answer_after": TIMEOUT - 0.5, "press": "accept", "press_after": 0.05}
    transfer = _start(api, phone, sim, one_cps, [{"kind": "no-answer"}] * 4 + [late], ahead=12)
    done = wait_transfer(transfer["id"], lambda t: t["outcome"], timeout=45)
    assert done["outcome"] == "transfer-success", [e["event"] for e in done["timeline"]]
    dialed = [e for e in done["timeline"] if e["event"] == "leg-dialed"]
    assert all(e.get("queue_seconds", 0) >= 8 for e in dialed), [e.get("queue_seconds") for e in dialed]
    winner = _times(sim, _member_legs(sim, done)[-1])
    assert winner["ringing"] - winner["created"] > TIMEOUT + 5 + 5     # rang after the first deadline


def test_twilio_cps_is_configured_and_bounds_the_queue_allowance():
    assert Config.from_env(GOOD).twilio_cps == 1                      # Twilio's default
    assert Config.from_env({**GOOD, "TWILIO_CPS": "30"}).twilio_cps == 30
    for bad in ("0", "-1", "fast", "nan", "inf"):
        with pytest.raises(ConfigError, match="TWILIO_CPS"):
            Config.from_env({**GOOD, "TWILIO_CPS": bad})
    assert queue_allowance(5, 1) == 5 and queue_allowance(5, 10) == 0.5
    assert queue_allowance(500, 1) == MAX_QUEUE_WAIT

"""A caller's call that Twilio no longer knows (404, code 20404: the simulator after a `make run`
restart, or a hang-up whose callback was lost) is finished: a warm transfer ends instead of ringing
its retries and fallbacks for nobody."""
from __future__ import annotations

FIRST, BACKUP = "+14155550151", "+14155550152"     # warm_first (one retry, then warm_backup)


def test_a_warm_fallback_is_not_dialed_for_a_caller_twilio_no_longer_knows(sim, phone, api, wait_transfer):
    sim.add_persona({"address": FIRST, "kind": "no-answer"})
    sim.add_persona({"address": BACKUP, "kind": "human", "answer_after": 0.2, "press": "1", "press_after": 0.05})
    caller = phone("+14155550901")
    before = {c["sid"] for c in sim.calls()}
    # Twilio forgets the caller's call: fetching it answers 404 (as the restarted simulator does).
    sim.add_fault(target="rest", method="GET", path_contains=f"/Calls/{caller}", status=404, code=20404, times=None)
    try:
        started = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_first"})
        assert started.status_code == 202, started.get_json()
        final = wait_transfer(started.get_json()["id"], timeout=20)
    finally:
        sim.clear_faults()
        sim.hangup(caller)
    assert final["outcome"] == "transfer-cancelled", final
    dialed = [c["to"] for c in sim.calls() if c["sid"] not in before and c["direction"].startswith("outbound")]
    assert dialed == [FIRST], f"only the first try rang: {dialed}"


def test_a_ring_timeout_for_a_caller_twilio_no_longer_knows_cancels_the_transfer(sim, phone, api, wait_transfer):
    # No retry, no fallback: the attempt's own timeout is the first thing to act after Twilio forgot the call
    # (a make run restart while it rang). It ends cancelled, not failed-timeout with a return that 404s.
    sim.add_persona({"address": "+14155550150", "kind": "no-answer"})
    caller = phone("+14155550902")
    try:
        started = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"})
        assert started.status_code == 202, started.get_json()
        transfer_id = started.get_json()["id"]
        sim.wait_for(lambda: api("get", f"/api/transfers/{transfer_id}").get_json()["status"] == "ringing",
                     timeout=10, message="the desk ringing, the caller on hold")
        # The restart: Twilio no longer knows the caller, and no callback about the ringing leg comes back.
        sim.add_fault(target="rest", path_contains=f"/Calls/{caller}", status=404, code=20404, times=None)
        sim.add_fault(target="webhook", url_contains="/leg-status", action="drop", call_to="+14155550150")
        final = wait_transfer(transfer_id, timeout=20)
    finally:
        sim.clear_faults()
        sim.hangup(caller)
    assert final["outcome"] == "transfer-cancelled", final
    events = [e["event"] for e in final["timeline"]]
    assert "caller-not-returned" not in events and "attempt-failed" not in events, events

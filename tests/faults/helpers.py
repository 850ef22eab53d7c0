"""What a user would notice after a fault: the transfer's one outcome, where the caller is, what the
recipient heard. Everything is read from the API and the simulator, never from our internals."""
from __future__ import annotations

from handoff.state import Outcome
from simulator.model import FINAL_STATUSES

SUCCESS = Outcome.SUCCESS.value
TIMEOUT = Outcome.TIMEOUT.value
CONNECTION_ERROR = Outcome.CONNECTION_ERROR.value
CANCELLED = Outcome.CANCELLED.value
REJECTED = Outcome.SCREENING_REJECTED.value
OUTCOMES = frozenset(outcome.value for outcome in Outcome)
# Nobody cancelled and nobody declined: after a crash the service may still give up, but cleanly.
NOT_CANCELLED_OR_REJECTED = frozenset({SUCCESS, TIMEOUT, CONNECTION_ERROR})
BRIDGED_ACTIVITIES = ("in-conference", "bridged")

WARM = "+14155550150"          # warm_desk: timeout 2, accept_timeout 1, detection_timeout 3
BILLING = "+14155550101"       # billing: cold, timeout 2 (defaults)
TRIO = {"trio_a": "+14155550161", "trio_b": "+14155550162", "trio_c": "+14155550163"}   # group trio: 3 / 2

# Callback paths the service hands to Twilio, used by fault rules that target one kind of webhook. A
# rule that never matches fails its test (Faults.assert_hit), so a renamed path cannot go unnoticed.
LEG_STATUS_PATH = "/leg-status"
DIAL_ACTION_PATH = "/dial-action"


def events(transfer: dict) -> list[str]:
    return [e["event"] for e in transfer["timeline"]]


def heard_text(sim, sid: str) -> str:
    return " ".join(h.get("text") or "" for h in sim.heard(sid))


def caller_bridged(sim, caller: str, timeout: float = 8) -> dict:
    """Wait until the caller talks with a person (in the conference, or bridged by a Dial)."""
    return sim.wait_for(lambda: (c := sim.call(caller))["activity"] in BRIDGED_ACTIVITIES and c,
                        timeout=timeout, message=f"caller {caller} bridged")


def back_with_agent(sim, caller: str, outcome: str | None = None, timeout: float = 10) -> dict:
    """Wait until the caller is with the AI agent again (a new session), told `outcome` when given."""

    def check():
        call = sim.call(caller)
        if call["activity"] != "with-agent" or call["agent"]["sessions"] < 2:
            return None
        if outcome and call["agent"]["parameters"].get("transfer_outcome") != outcome:
            return None
        return call

    return sim.wait_for(check, timeout=timeout, message=f"caller {caller} back with the agent ({outcome})")


def wait_outcome(stack, transfer_id: str, *, timeout: float, allowed=OUTCOMES) -> dict:
    """The transfer has its outcome within `timeout`, and it is one of `allowed`."""
    done = stack.wait_transfer(transfer_id, lambda t: t.get("outcome") is not None, timeout=timeout)
    assert done["outcome"] in allowed, (done["outcome"], done.get("outcome_detail"), events(done))
    return done


def assert_caller_placed(sim, caller: str, outcome: str, *, timeout: float = 10, may_stay_with_agent=False):
    """Success: the caller is bridged. Otherwise: the caller is back with the agent, told the outcome
    (`may_stay_with_agent`: or never left the first agent session, when the transfer failed before
    the caller was moved)."""
    if outcome == SUCCESS:
        return caller_bridged(sim, caller, timeout=timeout)
    if may_stay_with_agent:
        call = sim.call(caller)
        if call["activity"] == "with-agent" and call["agent"]["sessions"] == 1:
            return call
    return back_with_agent(sim, caller, outcome, timeout=timeout)


def assert_finished(stack, caller: str, transfer_id: str, outcome: str, *, timeout: float = 10) -> dict:
    """The call ends as a user would end it (a bridged caller hangs up), and the transfer is over:
    status completed, the same outcome, exactly one 'completed' event in its timeline."""
    sim = stack.sim
    call = sim.call(caller)
    if call["status"] not in FINAL_STATUSES and call["activity"] in BRIDGED_ACTIVITIES:
        sim.hangup(caller)
    final = stack.wait_transfer(transfer_id, lambda t: t["status"] == "completed", timeout=timeout)
    assert final["outcome"] == outcome, (final["outcome"], outcome, events(final))
    completed = [e for e in final["timeline"] if e["event"] == "completed"]
    assert len(completed) == 1, f"{len(completed)} 'completed' events: {events(final)}"
    return final


def settle(stack, caller: str, transfer_id: str, *, timeout: float, allowed=OUTCOMES,
           placement_timeout: float = 10, may_stay_with_agent=False) -> dict:
    """Exactly one outcome within `timeout`, the caller where that outcome puts them, then the call
    ends and the transfer is completed with that outcome. Returns the final transfer."""
    done = wait_outcome(stack, transfer_id, timeout=timeout, allowed=allowed)
    assert_caller_placed(stack.sim, caller, done["outcome"], timeout=placement_timeout,
                         may_stay_with_agent=may_stay_with_agent)
    return assert_finished(stack, caller, transfer_id, done["outcome"])


def wait_ended(sim, sids, *, timeout: float = 8, message: str = "legs ended") -> None:
    """Every call in `sids` has ended (nobody is left on a line the service forgot)."""
    sids = list(sids)
    sim.wait_for(lambda: all(sim.call(s)["status"] in FINAL_STATUSES for s in sids), timeout=timeout,
                 message=f"{message}: {[(s, sim.call(s)['status'], sim.call(s)['activity']) for s in sids]}")


def wait_ringing(sim, legs, address: str, *, timeout: float = 8) -> dict:
    """The first leg to `address` placed during this test, once it rings."""
    def check():
        found = legs(address)
        return found and found[0]["status"] == "ringing" and found[0]

    return sim.wait_for(check, timeout=timeout, message=f"a leg to {address} ringing")

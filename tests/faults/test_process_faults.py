"""Processes dying mid-transfer: the worker processes SIGKILLed, Redis restarted, everything restarted.

After a crash the service may still connect the caller or give up, but it ends with exactly one
outcome, the caller is bridged (success) or back with the agent (anything else), and a recipient is
never left on a line nobody uses."""
import signal
import time

import pytest
import requests

from .helpers import (NOT_CANCELLED_OR_REJECTED, SUCCESS, WARM, assert_caller_placed, assert_finished, heard_text,
                      wait_ended, wait_outcome, wait_ringing)


def _check_warm_result(stack, caller, done, legs, *, summary):
    """Where the caller and the recipient are, for the outcome the transfer ended with."""
    sim = stack.sim
    assert_caller_placed(sim, caller, done["outcome"], timeout=10)
    recipient_legs = legs(WARM)
    assert recipient_legs, "the recipient was never called"
    if done["outcome"] == SUCCESS:
        # Exactly one of the recipient's legs is on the call, in the conference with the caller; any
        # other (a dial repeated after the crash) has been hung up.
        sim.wait_for(lambda: [c["sid"] for c in legs(WARM) if c["status"] == "in-progress"], timeout=5,
                     message="the recipient on the call")
        connected = [c for c in legs(WARM) if c["status"] == "in-progress"]
        assert len(connected) == 1, f"{len(connected)} recipient legs up: {connected}"
        assert connected[0]["activity"] in ("in-conference", "bridged"), connected[0]
        assert summary in heard_text(sim, connected[0]["sid"]), "the accepting recipient heard no whisper"
        others = [c["sid"] for c in legs(WARM) if c["sid"] != connected[0]["sid"]]
        if others:
            wait_ended(sim, others, message="extra recipient legs hung up")
    else:
        wait_ended(sim, [c["sid"] for c in recipient_legs], message="recipient legs hung up after the failure")
    return assert_finished(stack, caller, done["id"], done["outcome"])


@pytest.mark.parametrize("moment,caller_number", [("after-request", "+14155550311"),
                                                  ("while-ringing", "+14155550312")])
def test_workers_sigkilled_mid_warm_transfer_then_restarted(moment, caller_number, stack, sim, legs):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 1.0, "press": "1", "press_after": 0.05})
    caller = stack.place_call(caller_number)
    transfer = stack.transfer(caller, {"to": "warm_desk", "reason": "a crash", "summary": "KILLED-WORKERS"})
    if moment == "while-ringing":
        wait_ringing(sim, legs, WARM)
    stack.kill_workers(signal.SIGKILL)
    assert not stack.worker_pids()
    stack.start_workers()
    # While the leg rang no job was running: nothing was lost, the recipient answers and presses 1, so
    # the caller must be connected. Killed right after the request, the start job may have died
    # half-way: the service may then give up, cleanly.
    allowed = {SUCCESS} if moment == "while-ringing" else NOT_CANCELLED_OR_REJECTED
    # Deadline: warm_desk's ring timeout (2) + detection (3) + accept (1), plus the restart and slack.
    done = wait_outcome(stack, transfer["id"], timeout=25, allowed=allowed)
    _check_warm_result(stack, caller, done, legs, summary="KILLED-WORKERS")


def test_redis_restarted_while_the_leg_rings(stack, sim, legs):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 2.0, "press": "1", "press_after": 0.05})
    caller = stack.place_call("+14155550313")
    # A 6 s ring timeout: the recipient answers after 2 s, whatever Redis did meanwhile.
    transfer = stack.transfer(caller, {"to": "warm_desk", "timeout": 6, "summary": "REDIS-RESTART"})
    wait_ringing(sim, legs, WARM)
    stack.stop_redis()

    def service_sees_redis_down():
        try:
            return requests.get(f"{stack.base_url}/healthz", timeout=2).json()["redis"] != "ok"
        except requests.RequestException:
            return False

    sim.wait_for(service_sees_redis_down, timeout=5, message="the service sees Redis down")
    stack.start_redis()
    # Redis is back (with every write, from the AOF) before the recipient answers: the recipient
    # answers and presses 1, so the caller must be connected.
    assert sim.call(legs(WARM)[0]["sid"])["status"] == "ringing", "the outage outlasted the ringing"
    done = wait_outcome(stack, transfer["id"], timeout=25, allowed={SUCCESS})
    _check_warm_result(stack, caller, done, legs, summary="REDIS-RESTART")


def test_every_process_restarted_mid_whisper(stack, sim, legs):
    # A whisper long enough (about 10 s) to restart web, worker and Redis while the recipient hears it.
    sim.settings(speech_seconds_per_char=0.04)
    summary = "MID-WHISPER " + "The caller was charged twice for the October invoice and wants a refund. " * 3
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.2, "press": "1", "press_after": 0.05})
    caller = stack.place_call("+14155550314")
    transfer = stack.transfer(caller, {"to": "warm_desk", "reason": "a refund", "summary": summary})

    def hearing_whisper():
        found = legs(WARM)
        return found and "MID-WHISPER" in heard_text(sim, found[0]["sid"]) and found[0]["activity"] in ("say", "gather")

    sim.wait_for(hearing_whisper, timeout=10, message="the recipient hearing the whisper")
    leg = legs(WARM)[0]["sid"]
    started = time.monotonic()
    stack.restart_all()
    restart_seconds = time.monotonic() - started
    # Everything is back while the recipient still listens: they press 1 to a working service, so the
    # caller must be connected. (A restart slower than the whisper leaves the key press to a dead
    # web process: then only a clean outcome is required.)
    still_listening = sim.call(leg)["status"] == "in-progress" and sim.call(leg)["activity"] in ("say", "gather")
    print(f"restart of every process took {restart_seconds:.1f} s; recipient still listening: {still_listening}")
    done = wait_outcome(stack, transfer["id"], timeout=30,
                        allowed={SUCCESS} if still_listening else NOT_CANCELLED_OR_REJECTED)
    assert "MID-WHISPER" in heard_text(sim, leg)
    _check_warm_result(stack, caller, done, legs, summary="MID-WHISPER")

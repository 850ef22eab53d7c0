"""Slowly ringing legs whose status callbacks arrive twice, late and out of order: applied once, they
change nothing a user would notice; in a parallel group a late second accept never hangs up the winner."""
from .helpers import (LEG_STATUS_PATH, SUCCESS, TRIO, WARM, assert_finished, caller_bridged, heard_text,
                      wait_ended, wait_outcome)


def test_slow_warm_leg_with_duplicated_and_reordered_callbacks(stack, sim, faults, legs):
    sim.settings(callback_jitter=0.4)
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 2.0, "press": "1", "press_after": 0.05})
    # 'ringing' arrives 2.5 s late, after the answer; every other leg status callback arrives twice.
    late_ringing = faults.add(target="webhook", url_contains=LEG_STATUS_PATH, action="delay", seconds=2.5,
                              status="ringing", call_to=WARM)
    twice = faults.add(target="webhook", url_contains=LEG_STATUS_PATH, action="duplicate", seconds=0.3, call_to=WARM)
    caller = stack.place_call("+14155550341")
    # A 5 s ring timeout, so that answering after 2 s is in time whatever the jitter.
    transfer = stack.transfer(caller, {"to": "warm_desk", "timeout": 5, "summary": "DUPLICATES"})
    done = wait_outcome(stack, transfer["id"], timeout=15, allowed={SUCCESS})
    caller_bridged(sim, caller)
    recipient_legs = legs(WARM)
    assert len(recipient_legs) == 1, f"the recipient was called {len(recipient_legs)} times"
    leg = recipient_legs[0]["sid"]
    # The late 'ringing' has been delivered, after the answer: the two are still talking.
    sim.wait_for(lambda: any(e.get("fault") == "delayed" for e in sim.timeline(leg)), timeout=8,
                 message="the late 'ringing' callback delivered")
    faults.assert_hit(late_ringing, "late ringing")
    faults.assert_hit(twice, "duplicated leg status")
    assert sim.call(leg)["status"] == "in-progress" and sim.call(leg)["activity"] in ("in-conference", "bridged")
    assert sim.call(caller)["activity"] in ("in-conference", "bridged")
    # The recipient heard the whisper once, not once per copy of a callback.
    whispers = [h for h in sim.heard(leg) if "DUPLICATES" in (h.get("text") or "")]
    assert len(whispers) == 1, whispers
    assert_finished(stack, caller, done["id"], SUCCESS)


def test_parallel_group_late_second_accept_keeps_the_winner(stack, sim, faults, legs):
    a, b, c = TRIO["trio_a"], TRIO["trio_b"], TRIO["trio_c"]
    sim.settings(callback_jitter=0.2)
    # trio (parallel, ring timeout 3, accept timeout 2): A answers first and accepts; B answers a
    # little later and presses 1 after A accepted; C never answers.
    sim.add_persona({"address": a, "kind": "human", "answer_after": 1.8, "press": "1", "press_after": 1.0})
    sim.add_persona({"address": b, "kind": "human", "answer_after": 2.2, "press": "1", "press_after": 1.6})
    sim.add_persona({"address": c, "kind": "no-answer"})
    duplicates = [faults.add(target="webhook", url_contains=LEG_STATUS_PATH, action="duplicate", seconds=0.25,
                             call_to=number) for number in (a, b, c)]
    caller = stack.place_call("+14155550342")
    transfer = stack.transfer(caller, {"to": "trio", "summary": "PARALLEL"})

    def b_screening():
        found = legs(b)
        return found and found[0]["status"] == "in-progress" and found[0]["activity"] in ("say", "gather") \
            and found[0]["sid"]

    leg_b = sim.wait_for(b_screening, timeout=8, message="B hearing the whisper before A accepts")
    # From now on Twilio fails every change to B's leg, so the service cannot hang B up when A
    # accepts: B is still on the line and presses 1 late.
    faults.add(target="rest", method="POST", path_contains=f"/Calls/{leg_b}", status=500, code=20500, times=None)
    done = wait_outcome(stack, transfer["id"], timeout=15, allowed={SUCCESS})
    caller_bridged(sim, caller)
    leg_a = legs(a)[0]["sid"]

    def b_pressed():
        return any(e.get("type") == "webhook" and (e.get("params") or {}).get("Digits") == "1"
                   for e in sim.timeline(leg_b))

    sim.wait_for(b_pressed, timeout=8, message="B's late accept delivered")
    # B is told the call was taken and leaves; A, the winner, is still talking with the caller.
    wait_ended(sim, [leg_b], message="B's leg ended after its late accept")
    wait_ended(sim, [leg["sid"] for leg in legs(c)], message="C's leg cancelled")
    assert sim.call(leg_a)["status"] == "in-progress", sim.call(leg_a)
    assert sim.call(leg_a)["activity"] in ("in-conference", "bridged"), sim.call(leg_a)
    assert sim.call(caller)["activity"] in ("in-conference", "bridged")
    assert "PARALLEL" not in heard_text(sim, caller)
    assert any(faults.hits(rule) for rule in duplicates), "no leg status callback was duplicated"
    assert_finished(stack, caller, done["id"], SUCCESS)

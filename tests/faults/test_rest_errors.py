"""Twilio's REST API answering 429 and then 500: the transfer still succeeds or fails cleanly, and the
caller is never stranded (bridged, back with the agent, or never moved away from it)."""
from .helpers import BILLING, CONNECTION_ERROR, SUCCESS, TIMEOUT, WARM, settle, wait_ended


def test_warm_transfer_when_the_first_rest_calls_fail(stack, sim, faults, legs):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.2, "press": "1", "press_after": 0.05})
    caller_number = "+14155550331"
    caller = stack.place_call(caller_number)
    # The first change to the caller's call (onto hold) is refused with 429, and the first leg to
    # the recipient with 500: each once, with no side effect.
    too_many = faults.add(target="rest", method="POST", path_contains="/Calls", status=429, code=20429, times=1,
                          call_from=caller_number)
    broken = faults.add(target="rest", method="POST", path_contains="/Calls", status=500, code=20500, times=1,
                        call_to=WARM)
    transfer = stack.transfer(caller, {"to": "warm_desk", "summary": "REST-ERRORS"})
    final = settle(stack, caller, transfer["id"], timeout=20, allowed={SUCCESS, CONNECTION_ERROR, TIMEOUT},
                   may_stay_with_agent=True)
    faults.assert_hit(too_many, "429 on the caller's call")
    if final["outcome"] == SUCCESS:
        faults.assert_hit(broken, "500 on the recipient's leg")
    else:
        # Nobody is left ringing or waiting on the recipient's side.
        wait_ended(sim, [c["sid"] for c in legs(WARM)], message="recipient legs ended")


def test_cold_transfer_when_the_first_rest_calls_fail(stack, sim, faults):
    caller_number = "+14155550332"
    sim.add_persona({"address": BILLING, "kind": "human", "answer_after": 0.2})
    caller = stack.place_call(caller_number)
    # The redirect into the Dial is refused twice: 429, then 500 on the next try.
    rules = [faults.add(target="rest", method="POST", path_contains="/Calls", status=status, code=code, times=1,
                        call_from=caller_number) for status, code in ((429, 20429), (500, 20500))]
    transfer = stack.transfer(caller, {"to": "billing", "mode": "cold"})
    final = settle(stack, caller, transfer["id"], timeout=15, allowed={SUCCESS, CONNECTION_ERROR, TIMEOUT},
                   may_stay_with_agent=True)
    faults.assert_hit(rules[0], "429 on the caller's call")
    if final["outcome"] == SUCCESS:        # it got through, so it also went past the 500
        faults.assert_hit(rules[1], "500 on the caller's call")


def test_leg_create_refused_then_the_return_failing_still_returns_the_caller(stack, sim, faults, legs):
    """The fault run's stranding case: Twilio refuses the recipient's leg (429, more often than the
    gateway retries) and then answers 500 to every try of the caller's return; the return deadline
    fires again after its lease and the caller is back with the agent, told why."""
    caller_number = "+14155550333"
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.2, "press": "1", "press_after": 0.05})
    caller = stack.place_call(caller_number)
    sim.settings(rest_latency=1.0)     # a slow Twilio: the leg's retries outlast our adding the next rule
    refused = faults.add(target="rest", method="POST", path_contains="/Calls.json", status=429, code=20429,
                         times=None, call_to=WARM)
    transfer = stack.transfer(caller, {"to": "warm_desk"})
    sim.wait_for(lambda: sim.call(caller)["activity"] in ("waiting-in-conference", "in-conference"), timeout=10,
                 message="caller on hold")
    broken = faults.add(target="rest", method="POST", path_contains="/Calls/", status=500, code=20500, times=4,
                        call_from=caller_number)
    final = settle(stack, caller, transfer["id"], timeout=30, allowed={CONNECTION_ERROR}, placement_timeout=30)
    faults.assert_hit(refused, "429 on the recipient's leg")
    assert len(faults.hits(broken)) == 4, "every try of the first return failed"
    assert not legs(WARM), "no leg was ever created"
    assert final["outcome_detail"].startswith("could not dial")

"""The races a slowly ringing world exposes, as regression tests: stale jobs, late accepts, refused
transitions (issue: one lifecycle). Legs ring for seconds here, as real phones do."""
from datetime import datetime

from twilio.request_validator import RequestValidator

from handoff.transfer.lifecycle import JOIN_WINDOW

from .helpers import back_with_agent, events


def _post_signed(client, service_env, path, params):
    validator = RequestValidator(service_env["TWILIO_AUTH_TOKEN"])
    params = {"AccountSid": service_env["TWILIO_ACCOUNT_SID"], **params}
    signature = validator.compute_signature(service_env["PUBLIC_BASE_URL"] + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def _dialed(transfer, attempt=None):
    return [e["leg"] for e in transfer["timeline"] if e["event"] == "leg-dialed"
            and (attempt is None or e["attempt"] == attempt)]


def iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_a_stale_attempt_job_never_touches_the_next_attempts_leg(app, client, sim, phone, api, wait_transfer,
                                                                 service_env):
    sim.add_persona({"address": "+14155550151", "kind": "human", "answer_after": 0.1, "press": "2",
                     "press_after": 0.05})
    sim.add_persona({"address": "+14155550152", "kind": "human", "answer_after": 3, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550181")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_first", "timeout": 8}).get_json()
    ringing = wait_transfer(transfer["id"], lambda t: t["attempt"] == 2 and _dialed(t, 2), timeout=20)
    first_leg, backup_leg = _dialed(ringing, 0)[0], _dialed(ringing, 2)[0]
    # Everything a stale attempt 0 could still do, while attempt 2's leg rings: its leg's end replayed,
    # its jobs run again.
    _post_signed(client, service_env, f"/voice/transfers/{transfer['id']}/leg-status?c={caller}&a=0",
                 {"CallSid": first_leg, "CallStatus": "completed"})
    runtime = app.extensions["handoff"]
    runtime.lifecycle.end_legs(transfer["id"], attempt=0)
    runtime.lifecycle.advance(transfer["id"])
    assert sim.call(backup_leg)["status"] in ("queued", "initiated", "ringing", "in-progress")
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] is not None, timeout=20)
    assert done["outcome"] == "transfer-success" and done["attempt"] == 2
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=5, message="caller bridged")


def test_a_late_second_accept_never_hangs_up_the_winner(app, client, sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": "+14155550161", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    sim.add_persona({"address": "+14155550162", "kind": "human", "answer_after": 0.1, "press": None})
    sim.add_persona({"address": "+14155550163", "kind": "no-answer"})
    caller = phone("+14155550182")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "trio"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success", timeout=15)
    winner = next(e["leg"] for e in done["timeline"] if e["event"] == "key-pressed")
    loser = next(leg for leg in _dialed(done) if leg != winner and sim.call(leg)["to"] == "+14155550162")
    # B's accept arrives after A won (its Gather action was late): refused, answered "taken elsewhere".
    late = _post_signed(client, service_env, f"/voice/transfers/{transfer['id']}/key?c={caller}&a=0&leg={loser}",
                        {"CallSid": loser, "Digits": "1"})
    assert late.status_code == 200 and b"<Conference" not in late.data
    app.extensions["handoff"].lifecycle.end_legs(transfer["id"])    # what the late accept could have queued
    assert sim.call(winner)["status"] == "in-progress"
    assert sim.call(caller)["activity"] == "in-conference"
    after = api("get", f"/api/transfers/{transfer['id']}").get_json()
    assert (after["status"], after["outcome"]) == ("bridged", "transfer-success")
    sim.hangup(caller)


def test_a_refused_transition_leaves_no_deadline_behind(app, client, sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": "+14155550150", "kind": "busy"})
    caller = phone("+14155550183")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    back_with_agent(sim, caller, done["outcome"])
    store = app.extensions["handoff"].store
    sim.wait_for(lambda: store.redis.zscore(store.keys.deadlines(), transfer["id"]) is None, timeout=5,
                 message="the finished transfer's deadline cleared")
    before = store.get_transfer(transfer["id"])
    leg = _dialed(done)[0]
    # Late callbacks whose transitions would arm deadlines (screening, join) if they applied.
    for path, params in [("leg-answer?c={c}&a=0&sw=60", {"CallSid": leg, "AnsweredBy": "human"}),
                         ("key?c={c}&a=0&leg={leg}", {"CallSid": leg, "Digits": "1"}),
                         ("consent?c={c}&a=0&leg={leg}", {"CallSid": leg, "Digits": "1"})]:
        response = _post_signed(client, service_env,
                                f"/voice/transfers/{transfer['id']}/" + path.format(c=caller, leg=leg), params)
        assert response.status_code == 200 and b"<Conference" not in response.data
    assert store.redis.zscore(store.keys.deadlines(), transfer["id"]) is None
    after = store.get_transfer(transfer["id"])
    assert (after.deadline_kind, after.deadline_at, after.outcome) == (None, None, before.outcome)
    assert events(api("get", f"/api/transfers/{transfer['id']}").get_json()).count("completed") == 1


def test_a_lost_join_callback_is_reconciled_with_twilio_not_failed(sim, phone, api, wait_transfer):
    """The recipient joined but neither Twilio's participant-join nor its conference-start callback came:
    the join deadline asks Twilio (participants of the room) and finds them there, so the caller is
    never moved away."""
    sim.add_persona({"address": "+14155550150", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550187")
    sim.add_fault(target="webhook", url_contains="/conference", status="participant-join", action="drop",
                  call_to="+14155550150")
    sim.add_fault(target="webhook", url_contains="/conference", status="conference-start", action="drop")
    try:
        transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
        done = wait_transfer(transfer["id"], lambda t: t["outcome"] is not None, timeout=30)
        assert done["outcome"] == "transfer-success"
        assert any(e["event"] == "bridged" and e.get("reconciled") for e in done["timeline"])
        assert sim.call(caller)["activity"] == "in-conference"
    finally:
        sim.clear_faults()
        sim.hangup(caller)


def test_a_lost_join_callback_is_made_good_by_the_conference_starting(sim, phone, api, wait_transfer):
    """Only the recipient starts the conference: its conference-start callback is the bridge when the
    participant-join is lost, at once, not a join deadline later behind a busy queue (the scale bench
    once saw such a bridge judged "hung up before joining" when the recipient hung up 30 s later)."""
    sim.add_persona({"address": "+14155550150", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550188")
    sim.add_fault(target="webhook", url_contains="/conference", status="participant-join", action="drop",
                  call_to="+14155550150")
    try:
        transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
        done = wait_transfer(transfer["id"], lambda t: t["outcome"] is not None, timeout=10)
        assert done["outcome"] == "transfer-success"
        bridged = [e for e in done["timeline"] if e["event"] == "bridged"]
        assert len(bridged) == 1 and bridged[0]["via"] == "conference-start" and not bridged[0].get("reconciled")
        accepter = next(e["leg"] for e in done["timeline"] if e["event"] == "key-pressed")
        assert bridged[0]["leg"] == accepter and bridged[0]["participant"] == "recipient"   # lanes, reports
        accepted = next(e["at"] for e in done["timeline"] if e["event"] == "key-pressed")
        assert iso(bridged[0]["at"]) - iso(accepted) < JOIN_WINDOW    # not the join deadline's doing
        assert sim.call(caller)["activity"] == "in-conference"
    finally:
        sim.clear_faults()
        sim.hangup(caller)


def test_a_start_that_keeps_dying_ends_the_transfer_and_returns_the_caller(sim, phone, service_env):
    """A start job killed every time (its lease re-fires it) gives up after its tries: the transfer ends
    with a connection error instead of walking the fallback chain without its caller, and the caller
    hears the agent again. Run on a prefix no worker serves, so this test alone drives `advance`."""
    import uuid

    from app import create_app

    caller = phone("+14155550191")
    runtime = create_app({**service_env, "REDIS_KEY_PREFIX": f"nowork-{uuid.uuid4().hex[:8]}"}).extensions["handoff"]
    runtime.store.record_call(caller, {"from": "+14155550191", "to": "+15005550006", "status": "in-progress",
                                       "sip": "0"})
    from handoff.transfer_request import TransferRequest

    transfer, _ = runtime.service.request_transfer(caller, TransferRequest(to="warm_first"))
    # Three starts were claimed and died (each a worker killed mid-job): the fourth claim gives up.
    runtime.redis.hset(runtime.store.keys.transfer(transfer.id), "tries_start_0", 3)
    runtime.lifecycle.advance(transfer.id)
    done = runtime.service.transfer_view(transfer.id)
    assert (done["status"], done["outcome"]) == ("completed", "transfer-failed-connection-error")
    assert "gave-up" in events(done) and "dialing" not in events(done)
    back_with_agent(sim, caller, "transfer-failed-connection-error")

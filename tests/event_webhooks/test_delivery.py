"""Event webhooks end to end: real transfers through the simulator, real workers, a local receiver."""
from __future__ import annotations

import json

from handoff.event_webhooks import delivery_statuses

from .conftest import EVENTS_MAX_AGE
from .receiver import HOLD

WARM = "+14155550150"
COLD = "+14155550101"


def _warm_transfer(sim, events_phone, events_api, finished) -> tuple[str, str]:
    """A warm transfer accepted by the recipient, then the caller hangs up: every event written."""
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05})
    caller = events_phone()
    response = events_api("post", f"/api/calls/{caller}/transfers",
                          json={"to": "warm_desk", "reason": "a disputed invoice"})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["id"]
    assert finished(transfer_id)["outcome"] == "transfer-success"
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=5, message="caller bridged")
    sim.hangup(caller)
    sim.wait_for(lambda: sim.call(caller)["status"] == "completed", timeout=5, message="caller hung up")
    return transfer_id, caller


def _cold_transfer(sim, events_phone, events_api, finished) -> tuple[str, str]:
    sim.add_persona({"address": COLD, "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = events_phone()
    response = events_api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "mode": "cold"})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["id"]
    assert finished(transfer_id)["outcome"] == "transfer-success"
    return transfer_id, caller


def _all(status, event_log, events_redis, events_keys, transfer_id):
    """A predicate: every event of the transfer has a delivery in `status`; returns their ids."""

    def check():
        ids = [e.id for e in event_log.history(transfer_id)]
        found = delivery_statuses(events_redis, events_keys, ids)
        if ids and len(found) == len(ids) and all(d["status"] == status for d in found.values()):
            return ids
        return None

    return check


def test_every_event_arrives_signed_despite_two_failures(sim, events_phone, events_api, finished, receiver,
                                                        event_log, events_redis, events_keys):
    receiver.reset(lambda n, envelope: 500 if n <= 2 else 200)    # each event's first two deliveries fail
    transfer_id, _ = _warm_transfer(sim, events_phone, events_api, finished)

    delivered = _all("delivered", event_log, events_redis, events_keys, transfer_id)

    def settled():
        # Every event the API's timeline shows (the same ids) is delivered; a late one (a leg's last
        # status callback) makes this wait for its delivery too.
        ids = delivered()
        timeline = events_api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"]
        return ids if ids and {e["id"] for e in timeline} <= set(ids) else None

    ids = sim.wait_for(settled, timeout=30, interval=0.1, message="every event delivered")
    received = receiver.of(transfer_id)
    events = {e.id: e for e in event_log.history(transfer_id)}
    types = [events[i].type for i in ids]
    for expected in ("requested", "caller-on-hold", "leg-dialed", "leg-answered", "key-pressed", "bridged", "completed"):
        assert expected in types, (expected, types)
    assert {d.event_id for d in received} <= set(events)          # nothing that is not an event of it
    for event_id in ids:
        tries = [d for d in received if d.event_id == event_id]
        assert [d.attempt for d in tries] == [1, 2, 3], (event_id, tries)
        assert [d.status for d in tries] == [500, 500, 200], (event_id, tries)    # acknowledged once
        assert all(d.signed for d in tries), event_id
        assert tries[1].at > tries[0].at and tries[2].at > tries[1].at
        envelope = tries[-1].envelope
        event = events[event_id]
        assert envelope["id"] == event_id and envelope["type"] == event.type
        assert envelope["transfer_id"] == transfer_id and envelope["created_at"] == event.at
        assert envelope["data"] == json.loads(json.dumps(event.to_dict()))
        headers = {k.lower(): v for k, v in tries[-1].headers.items()}
        assert headers["handoff-event-id"] == event_id and headers["handoff-event-type"] == event.type
        assert headers["user-agent"].startswith("Handoff/")
        assert headers["content-type"] == "application/json"
        # The same bytes every try: only the signature's timestamp changes.
        assert len({json.dumps(d.envelope, sort_keys=True) for d in tries}) == 1

    completed = next(d for d in received if d.envelope["type"] == "completed" and d.status == 200)
    assert completed.envelope["data"]["outcome"] == "transfer-success"
    statuses = delivery_statuses(events_redis, events_keys, ids)
    assert all(s["tries"] == 3 and s["last_status"] == 200 for s in statuses.values()), statuses
    assert not events_redis.zscore(events_keys.deliveries(), ids[0])     # nothing left scheduled


def test_a_receiver_down_past_the_max_age_is_given_up(sim, events_phone, events_api, finished, receiver,
                                                     event_log, events_redis, events_keys):
    totals = events_keys.analytics("totals")
    before = int(events_redis.hget(totals, "event_webhooks|given-up") or 0)
    receiver.reset(lambda n, envelope: 503)
    transfer_id, _ = _cold_transfer(sim, events_phone, events_api, finished)

    ids = sim.wait_for(_all("given-up", event_log, events_redis, events_keys, transfer_id),
                       timeout=EVENTS_MAX_AGE + 15, interval=0.2, message="every delivery given up")
    statuses = delivery_statuses(events_redis, events_keys, ids)
    received = receiver.of(transfer_id)
    for event_id in ids:
        status = statuses[event_id]
        tries = [d for d in received if d.event_id == event_id]
        assert status["tries"] >= 3 and status["last_status"] == 503
        assert "EVENTS_MAX_AGE_SECONDS" in status["last_error"]
        assert [d.attempt for d in tries] == list(range(1, status["tries"] + 1))
        assert all(d.status == 503 and d.signed for d in tries)
        # Retried for the max age, not (much) longer: the last try is at the event's age limit.
        assert status["finished_at"] - status["first_at"] <= EVENTS_MAX_AGE + 3
        assert status["finished_at"] - status["first_at"] >= EVENTS_MAX_AGE - 3
        assert events_redis.zscore(events_keys.deliveries(), event_id) is None
    assert int(events_redis.hget(totals, "event_webhooks|given-up") or 0) - before >= len(ids)


def test_refusals_are_not_retried_and_410_stops(sim, events_phone, events_api, finished, receiver,
                                               event_log, events_redis, events_keys):
    answers = {"requested": 400, "completed": 410}
    receiver.reset(lambda n, envelope: answers.get(envelope["type"], 200))
    transfer_id, _ = _cold_transfer(sim, events_phone, events_api, finished)

    def settled():
        ids = [e.id for e in event_log.history(transfer_id)]
        found = delivery_statuses(events_redis, events_keys, ids)
        done = len(found) == len(ids) and all(d["status"] != "pending" for d in found.values())
        return found if done and any(e.type == "completed" for e in event_log.history(transfer_id)) else None

    found = sim.wait_for(settled, timeout=15, interval=0.1, message="every delivery settled")
    events = {e.id: e for e in event_log.history(transfer_id)}
    for event_id, status in found.items():
        expected = {"requested": "given-up", "completed": "gone"}.get(events[event_id].type, "delivered")
        assert status["status"] == expected, (events[event_id].type, status)
        assert status["tries"] == 1, status
    assert len([d for d in receiver.of(transfer_id) if d.event_id in found]) == len(found)


def test_a_hanging_receiver_never_slows_the_twilio_webhooks(sim, events_phone, events_api, finished, receiver,
                                                           event_log, events_redis, events_keys):
    receiver.reset(lambda n, envelope: HOLD if n == 1 else 200)    # every first try hangs
    try:
        transfer_id, caller = _cold_transfer(sim, events_phone, events_api, finished)
        sim.wait_for(receiver.held.is_set, timeout=5, message="a delivery held by the receiver")
        # A held delivery lasts its 5 s timeout: a webhook that waited for one would show it.
        webhooks = [e for e in sim.timeline(caller) if e.get("type") == "webhook"]
        assert webhooks and max(e["elapsed"] for e in webhooks) < 3.0, webhooks
    finally:
        receiver.release()
    ids = sim.wait_for(_all("delivered", event_log, events_redis, events_keys, transfer_id), timeout=30,
                       interval=0.1, message="every event delivered after the hang")
    statuses = delivery_statuses(events_redis, events_keys, ids)
    assert all(s["tries"] >= 2 for s in statuses.values()), statuses    # the first try timed out
    received = receiver.of(transfer_id)
    assert all(sum(d.status == 200 for d in received if d.event_id == i) == 1 for i in ids)
    assert all(d.signed for d in received)


def test_deliveries_survive_redis_forgetting_its_scripts(sim, events_phone, events_api, finished, receiver,
                                                        event_log, events_redis, events_keys):
    """A Redis restart loses the scripts: retries still open, claim and take their deliveries."""
    receiver.reset(lambda n, envelope: 500 if n <= 1 else 200)
    transfer_id, _ = _cold_transfer(sim, events_phone, events_api, finished)
    events_redis.script_flush()                   # between the failed first tries and their retries
    ids = sim.wait_for(_all("delivered", event_log, events_redis, events_keys, transfer_id), timeout=30,
                       message="every event delivered after SCRIPT FLUSH")
    delivered = [d for d in receiver.of(transfer_id) if d.status == 200]
    assert sorted(d.event_id for d in delivered) == sorted(ids) and all(d.signed for d in delivered)

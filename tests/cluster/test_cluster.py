"""Handoff's keys and Lua scripts against a real Redis Cluster (three local masters): what holds today.

- Every key of one transfer (hash, events, seen, legs, archive) carries the transfer id as a hash tag,
  and every key of one call its SID: each shares one slot, and transfers spread over the slots.
- The state-changing scripts do NOT run on a cluster: by design they also write shared structures in
  the same atomic step (a deadline armed with the state it guards, the event feed, the analytics),
  and those live in other slots. The node refuses them with CROSSSLOT; the test names the keys.
- A script whose keys share a slot runs (claim.lua on one index): Lua itself is not the obstacle.
"""
from __future__ import annotations

import secrets
import uuid

import pytest
import redis

from handoff.keys import Keys
from handoff.changes import Change, Deadline
from handoff.store import Store
from handoff.state import DeadlineKind

KEYS = Keys("handoff")
HOUR = "2026010112"


def _ids() -> tuple[str, str]:
    return "tr_" + secrets.token_hex(12), "CA" + uuid.uuid4().hex


def _slot(cluster, key: str) -> int:
    return next(iter(cluster.values())).cluster("keyslot", key)


def _owner(cluster, key: str) -> redis.Redis:
    """The master serving the key's slot (a plain client to it: what it answers is the node's own word)."""
    slot = _slot(cluster, key)
    for start, end, master, *_ in next(iter(cluster.values())).execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return cluster[int(master[1])]
    raise AssertionError(f"no node serves slot {slot}")


def test_each_transfer_and_each_call_keeps_its_keys_in_one_slot(cluster):
    transfer_slots = set()
    for _ in range(30):
        transfer_id, call_sid = _ids()
        slots = {_slot(cluster, key) for key in KEYS.transfer_slot_keys(transfer_id)}
        assert slots == {_slot(cluster, "{%s}" % transfer_id)}, (transfer_id, slots)
        call = [KEYS.call(call_sid), KEYS.call_transfers(call_sid), KEYS.call_active(call_sid),
                KEYS.call_variables(call_sid)]
        assert len({_slot(cluster, key) for key in call}) == 1, call
        transfer_slots |= slots
    # The tag is the transfer's own id: transfers spread over the cluster, none pinned to one slot.
    assert len(transfer_slots) > 20
    assert len({id(_owner(cluster, KEYS.transfer(_ids()[0]))) for _ in range(30)}) == 3


def test_a_transition_is_refused_with_crossslot_because_of_the_shared_keys(cluster):
    transfer_id, call_sid = _ids()
    declared = KEYS.transfer_keys(transfer_id, call_sid, HOUR)
    home = _slot(cluster, KEYS.transfer(transfer_id))
    foreign = [key for key in declared if _slot(cluster, key) != home]
    # Exactly the shared structures (and the call's keys, tagged by its SID) leave the transfer's slot.
    assert foreign == [KEYS.deadlines(), KEYS.call(call_sid), KEYS.call_active(call_sid), KEYS.event_feed(),
                       KEYS.analytics(HOUR), KEYS.analytics("totals"), KEYS.archives()]
    store = Store(_owner(cluster, KEYS.transfer(transfer_id)), keys=KEYS)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):   # the node's -CROSSSLOT reply
        store.apply(transfer_id, call_sid, Change(event={"event": "cancel-requested"}))


def test_creating_a_transfer_is_refused_with_crossslot_too(cluster):
    transfer_id, call_sid = _ids()
    store = Store(_owner(cluster, KEYS.call(call_sid)), keys=KEYS)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):   # the node's -CROSSSLOT reply
        store.create_transfer({"id": transfer_id, "call_sid": call_sid, "status": "requested"},
                              event={"event": "requested"}, idempotency_key=None, fingerprint="",
                              deadline=Deadline(DeadlineKind.START))


def test_a_script_whose_keys_share_a_slot_runs(cluster):
    transfer_id, _ = _ids()
    node = _owner(cluster, KEYS.deadlines())
    node.zadd(KEYS.deadlines(), {transfer_id: 1.0})
    store = Store(node, keys=KEYS)
    assert store.claim_deadlines(lease=5.0) == [transfer_id]     # lua/claim.lua, on the node serving its key

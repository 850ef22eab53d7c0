"""The dispatcher on a real Redis: one consumer group, each event handled once, dead consumers' entries reclaimed."""
from __future__ import annotations

import json
import uuid

import pytest
import redis

from handoff.dispatch import Dispatcher
from handoff.keys import Keys
from handoff.store import Store


@pytest.fixture
def store(redis_server):
    connection = redis.Redis.from_url(redis_server.url)
    yield Store(connection, keys=Keys(f"dispatch-{uuid.uuid4().hex[:8]}"))
    connection.close()


def _append(store, transfer_id, event="leg-ringing"):
    body = {"event": event, "at": "2026-01-01T00:00:00.000+00:00", "transfer": transfer_id, "call": "CA1"}
    return store.redis.xadd(store.keys.event_feed(), {"e": json.dumps(body)}).decode()


class Recorder:
    """A handler: records events; writes a marker in the MULTI and notes its after-commit work."""

    def __init__(self, store):
        self.store, self.seen, self.after = store, [], []

    def __call__(self, events, round_):
        self.seen.extend(e.id for e in events)
        round_.batch.pad()
        round_.batch.pipe.sadd(f"{self.store.keys.prefix}:handled", *[e.id for e in events])
        round_.after(lambda: self.after.extend(e.id for e in events))


def _pending(store) -> int:
    return store.redis.xpending(store.keys.event_feed(), store.keys.event_group())["pending"]


def test_each_event_is_handled_once_by_one_of_the_dispatchers(store):
    first, second = Recorder(store), Recorder(store)
    a = Dispatcher(store, [first], name="a", block_ms=0)
    b = Dispatcher(store, [second], name="b", block_ms=0)
    before = _append(store, "T0")               # written before the group existed: not for us
    a.ensure_group()
    b.ensure_group()                            # idempotent
    ids = [_append(store, "T1") for _ in range(5)]
    a.poll_once()
    b.poll_once()
    a.poll_once()
    assert sorted(first.seen + second.seen) == sorted(ids) and before not in first.seen + second.seen
    assert sorted(first.after + second.after) == sorted(ids)     # after the commit, once
    assert store.redis.smembers(f"{store.keys.prefix}:handled") == {i.encode() for i in ids}
    assert _pending(store) == 0


def test_entries_a_dead_consumer_read_are_reclaimed(store):
    handler = Recorder(store)
    alive = Dispatcher(store, [handler], name="alive", block_ms=0, claim_idle_ms=0)
    alive.ensure_group()
    ids = [_append(store, "T2") for _ in range(3)]
    # Another consumer reads them and dies before acknowledging.
    store.redis.xreadgroup(store.keys.event_group(), "dead", {store.keys.event_feed(): ">"}, count=10)
    assert _pending(store) == 3
    store.redis.xdel(store.keys.event_feed(), ids[0])      # trimmed away meanwhile: acknowledged, not handled
    alive.poll_once()
    assert handler.seen == ids[1:]
    assert _pending(store) == 0
    alive.poll_once()
    assert handler.seen == ids[1:]                         # not twice


def test_a_failing_handler_does_not_stop_the_others_nor_the_feed(store):
    def broken(events, round_):
        raise RuntimeError("a bug")

    handler = Recorder(store)
    dispatcher = Dispatcher(store, [broken, handler], name="c", block_ms=0)
    dispatcher.ensure_group()
    ids = [_append(store, "T3") for _ in range(2)]
    dispatcher.poll_once()
    assert handler.seen == ids and _pending(store) == 0


def test_a_flushed_feed_is_read_from_its_start_again(store):
    handler = Recorder(store)
    dispatcher = Dispatcher(store, [handler], name="d", block_ms=0)
    dispatcher.ensure_group()
    store.redis.delete(store.keys.event_feed())            # the group goes with the stream
    new = _append(store, "T4")
    dispatcher.poll_once()                                 # NOGROUP: recreated from the start
    dispatcher.poll_once()
    assert handler.seen == [new]

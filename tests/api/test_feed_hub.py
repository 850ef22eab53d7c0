"""The process's feed hub: one reader, many subscribers, resumes without gaps or duplicates, survives Redis errors.

Events are written straight into a real Redis stream, in the shape the Lua scripts write, so that
thousands can be appended while subscribers join (a simulated transfer writes a few dozen).
"""
from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from handoff.events import EventLog
from handoff.feed_hub import CLIENT_NAME, FeedHub, HubFull, SubscriptionClosed
from handoff.keys import Keys


@pytest.fixture
def feed(redis_server):
    """A fresh feed (its own key prefix), a writer for it, and the hubs made on it (closed afterwards)."""
    connection = redis.Redis.from_url(redis_server.url)
    keys = Keys(f"hub-{time.time_ns()}")
    hubs: list[FeedHub] = []

    def write(n: int = 1, transfer: str = "tr_a") -> list[str]:
        pipe = connection.pipeline()
        for _ in range(n):
            pipe.xadd(keys.event_feed(), {"e": json.dumps({"event": "leg-ringing", "transfer": transfer,
                                                           "call": "CA" + "0" * 32, "at": "now"})})
            pipe.xadd(keys.events(transfer), {"e": "{}"})   # the transfer's own stream (ids differ here)
        return [i.decode() for i in pipe.execute()[0::2]]

    def hub(**options) -> FeedHub:
        made = FeedHub(EventLog(connection, keys), block_ms=200, **options)
        hubs.append(made)
        return made

    write.keys = keys
    yield write, hub, connection
    for made in hubs:
        made.close()


def _drain(subscription, count: int, timeout: float = 10.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += [e.id for e in subscription.get(timeout=0.2)]
    return got


def test_a_subscriber_resuming_while_events_pour_in_gets_each_once_in_order(feed):
    write, hub, _ = feed
    before = write(300)
    feeds = hub(replay_page=50)          # small pages: the catch-up takes several reads, live events meanwhile
    live = feeds.subscribe(None)
    stop = threading.Event()
    written: list[str] = []

    def writer():
        while not stop.is_set() and len(written) < 3000:
            written.extend(write(25))
            stop.wait(0.01)              # ~2,500 events/s: a flood, but one a loaded CI machine's reader can follow

    thread = threading.Thread(target=writer)
    thread.start()
    got_live: list[str] = []
    while len(written) < 500:            # the resume starts while the writer is going
        got_live += [e.id for e in live.get(timeout=0.05)]
    resumed = feeds.subscribe(before[99])
    got: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (thread.is_alive() or len(got) < 200 + len(written)
                                           or len(got_live) < len(written)):
        got += [e.id for e in resumed.get(timeout=0.02)]
        got_live += [e.id for e in live.get(timeout=0.02)]
    stop.set()
    thread.join()
    assert got == before[100:] + written                      # no gap, no duplicate, in order
    assert got_live == written                                # from now on: only what came after
    assert feeds.subscribers == 2


def test_a_transfer_subscription_replays_its_own_stream_then_follows_the_feed(feed):
    write, hub, connection = feed
    keys = write.keys
    write(3, transfer="tr_b")
    first = connection.xrange(keys.events("tr_b"))[0][0].decode()
    feeds = hub()
    subscription = feeds.subscribe(first, transfer_id="tr_b")
    assert len(subscription.get(timeout=1)) == 2              # the replay: the rest of its own stream
    assert subscription.replaying is False
    write(5, transfer="tr_other")
    mine = write(2, transfer="tr_b")
    assert _drain(subscription, 2) == mine                    # live, only its own


def test_a_subscriber_that_stops_reading_is_dropped_not_waited_for(feed):
    write, hub, _ = feed
    feeds = hub(queue_size=20)
    slow, fast = feeds.subscribe(None), feeds.subscribe(None)
    slow.get(timeout=0)                                       # caught up: now following live
    fast.get(timeout=0)
    ids: list[str] = []
    for _ in range(5):                                        # the fast one keeps up, the slow one never reads
        batch = write(10)
        assert _drain(fast, len(batch)) == batch
        ids += batch
    deadline = time.monotonic() + 5
    while slow.closed is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow.closed == "behind"
    with pytest.raises(SubscriptionClosed):
        slow.get(timeout=0.1)
    assert feeds.subscribers == 1


def test_the_reader_survives_a_lost_connection(feed):
    write, hub, connection = feed
    feeds = hub()
    subscription = feeds.subscribe(None)
    subscription.get(timeout=0)
    write(1)
    assert len(_drain(subscription, 1)) == 1
    killed = 0
    deadline = time.monotonic() + 5
    while not killed and time.monotonic() < deadline:        # the hub's blocked XREAD, by its name
        for client in connection.client_list():
            if client.get("name") == CLIENT_NAME and client.get("cmd") == "xread":
                connection.client_kill_filter(_id=client["id"])
                killed += 1
        time.sleep(0.02)
    assert killed
    after = write(3)
    assert _drain(subscription, 3) == after                  # nothing lost across the reconnect
    assert feeds.errors >= 1


def test_a_full_hub_refuses_and_a_closed_subscription_frees_its_place(feed):
    _, hub, _ = feed
    feeds = hub(max_subscribers=2)
    first = feeds.subscribe(None)
    feeds.subscribe(None)
    with pytest.raises(HubFull):
        feeds.subscribe(None)
    first.close()
    feeds.subscribe(None).close()
    with pytest.raises(ValueError):
        feeds.subscribe("yesterday")

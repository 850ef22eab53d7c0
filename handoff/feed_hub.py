"""One reader of the event feed per process, fanning events out to every live view in it.

Live views (Server-Sent Events, the Inspector) must not hold a Redis connection each: one daemon
thread per process reads the feed with XREAD BLOCK, on its own connection, and hands each batch to
the subscribers' bounded queues. A subscriber resuming from an older id first reads what it missed
from the stream (XRANGE, in its own thread) and then the live batches; ids only grow, so dropping
any event at or before the last one delivered makes the join free of gaps and duplicates:

- registered before the reader hands out an event: the event arrives live;
- registered after: the event was already in the stream when the replay started.

A subscriber whose queue overflows (a client that stopped reading) is closed, not waited for; it
resumes with the last id it saw, like a browser's EventSource does on its own.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

import redis

from .events import Event, EventLog

log = logging.getLogger("handoff.feed")

BLOCK_MS = 5000           # one XREAD waits this long at most (shutdown notices within it)
QUEUE_SIZE = 2000         # events a subscriber may have waiting before it is dropped
REPLAY_PAGE = 500         # events read per XRANGE while a subscriber catches up
MAX_BACKOFF = 10.0
MAX_ID_PART = 2 ** 64 - 1         # each half of a stream id is an unsigned 64-bit number
CLIENT_NAME = "handoff-feed-hub"   # CLIENT LIST shows which connections are the hubs'


class SubscriptionClosed(Exception):
    """The subscription was closed (by its owner, by the hub, or because it fell too far behind)."""


class HubFull(Exception):
    """This process already serves as many live views as it may."""


def stream_id(value: str) -> tuple[int, int]:
    """A stream id ('1700000000000-3' or '1700000000000') as a sortable pair; ValueError otherwise."""
    ms, _, seq = value.partition("-")
    if not ms.isascii() or not ms.isdigit() or (seq and not (seq.isascii() and seq.isdigit())) \
            or len(ms) > 20 or len(seq) > 20 or max(int(ms), int(seq or 0)) > MAX_ID_PART:
        raise ValueError(f"not a stream id: {value!r}")
    return int(ms), int(seq or 0)


def _own_connection(client: redis.Redis, socket_timeout: float) -> redis.Redis:
    """A client with its own pool (same server, TLS and credentials), whose reads may block."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": socket_timeout, "client_name": CLIENT_NAME}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


class Subscription:
    """A live view's events: what it missed since `after`, then every new one, each once, in order."""

    def __init__(self, hub: "FeedHub", after: str, transfer_id: str | None, queue_size: int):
        self._hub = hub
        self.transfer_id = transfer_id
        self._last = stream_id(after)
        self.last_id = after
        self._replaying = True
        self._queue: deque[Event] = deque()
        self._queue_size = queue_size
        self._cond = threading.Condition()
        self._closed: str | None = None

    @property
    def closed(self) -> str | None:
        """Why the subscription ended ('closed', 'behind', 'hub-closed'), or None while it is open."""
        return self._closed

    @property
    def replaying(self) -> bool:
        """Still reading what it missed from the stream (not yet following the live feed)."""
        return self._replaying and self._closed is None

    def get(self, timeout: float) -> list[Event]:
        """The next events (possibly none after `timeout` seconds); SubscriptionClosed once closed."""
        if self._replaying and self._closed is None:
            missed = self._hub._replay(self.transfer_id, self.last_id)
            if len(missed) < self._hub.replay_page:
                self._replaying = False
            fresh = self._fresh(missed)
            if fresh or self._replaying:
                return fresh
        with self._cond:
            if not self._queue and self._closed is None:
                self._cond.wait(timeout)
            if self._closed is not None and not self._queue:
                raise SubscriptionClosed(self._closed)
            batch = list(self._queue)
            self._queue.clear()
        return self._fresh(batch)

    def close(self) -> None:
        """Stop receiving events (idempotent)."""
        self._end("closed")

    def _fresh(self, events: list[Event]) -> list[Event]:
        fresh = []
        for event in events:
            key = stream_id(event.id)
            if key > self._last:
                fresh.append(event)
                self._last, self.last_id = key, event.id
        return fresh

    def _offer(self, events: list[Event]) -> None:
        """Called by the reader thread: queue the events this subscriber wants, or drop it if it is behind."""
        if self.transfer_id is not None:
            events = [e for e in events if e.transfer_id == self.transfer_id]
        if not events:
            return
        with self._cond:
            if self._closed is not None:
                return
            if len(self._queue) + len(events) > self._queue_size:
                self._queue.clear()
                self._closed = "behind"
                self._hub._remove(self)
            else:
                self._queue.extend(events)
            self._cond.notify_all()

    def _end(self, reason: str) -> None:
        with self._cond:
            if self._closed is None:
                self._closed = reason
            self._cond.notify_all()
        self._hub._remove(self)


class FeedHub:
    """The process's feed reader (started on the first subscription) and its subscribers."""

    def __init__(self, events: EventLog, *, block_ms: int = BLOCK_MS, queue_size: int = QUEUE_SIZE,
                 max_subscribers: int | None = None, replay_page: int = REPLAY_PAGE):
        # Its own pool: the blocking read never waits behind (or holds up) a webhook's commands.
        self._log = EventLog(_own_connection(events.redis, block_ms / 1000 + 5), events.keys)
        self.block_ms = block_ms
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.replay_page = replay_page
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._position: str | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.errors = 0                      # Redis errors the reader has survived (health, tests)

    @property
    def subscribers(self) -> int:
        """Live views open in this process."""
        return len(self._subscribers)

    def subscribe(self, after: str | None = None, *, transfer_id: str | None = None) -> Subscription:
        """Events after the id `after` (None: from now on), of one transfer or of all.

        Raises HubFull at `max_subscribers`, ValueError for a malformed id, redis errors if Redis
        cannot be read to start."""
        if after is not None:
            stream_id(after)
        with self._lock:
            if self.max_subscribers is not None and len(self._subscribers) >= self.max_subscribers:
                raise HubFull(f"{len(self._subscribers)} live views already open in this process")
            if self._thread is None or not self._thread.is_alive():
                self._start()
            start = after if after is not None else (self._position or "0-0")
            subscription = Subscription(self, start, transfer_id, self.queue_size)
            self._subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        """Stop the reader and close every subscription (tests, shutdown)."""
        self._stopped.set()
        for subscription in list(self._subscribers):
            subscription._end("hub-closed")

    def _start(self) -> None:
        # Where the reader starts is read before anyone registers: an event written after this
        # point is handed out live, one written before it is in the stream for the replay.
        if self._position is None:
            self._position = self._log.last_id()
        self._stopped = threading.Event()    # each reader its own: a closed hub's reader never comes back
        self._thread = threading.Thread(target=self._run, args=(self._stopped,), name="handoff-feed-hub",
                                        daemon=True)
        self._thread.start()

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def _replay(self, transfer_id: str | None, after: str) -> list[Event]:
        """One page of the events after `after`: the transfer's own stream, or the feed."""
        if transfer_id is not None:
            return self._log.history(transfer_id, after=after, limit=self.replay_page)
        entries = self._log.redis.xrange(self._log.keys.event_feed(), f"({after}", "+", count=self.replay_page)
        return [Event.from_entry(i, f) for i, f in entries]

    def _run(self, stopped: threading.Event) -> None:
        backoff = 0.5
        while not stopped.is_set():
            try:
                events = self._log.feed(after=self._position, block_ms=self.block_ms, count=500)
            except Exception as exc:     # Redis down, restarted, a timeout: never let the thread die
                self.errors += 1
                if self.errors == 1 or self.errors % 20 == 0:
                    log.warning("event feed unreadable (%s); retrying in %.1fs", exc, backoff)
                stopped.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.5
            if not events:
                continue
            with self._lock:
                self._position = events[-1].id
                subscribers = list(self._subscribers)
            for subscription in subscribers:
                subscription._offer(events)

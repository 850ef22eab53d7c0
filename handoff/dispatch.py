"""The workers' reader of the event feed: hands every event to the handlers once, then acknowledges it.

Every worker process runs a Dispatcher thread. They share one consumer group on the feed
(`Keys.event_group()`), so each event goes to one of them. A batch's handlers add their Redis
writes (delivery records, RQ jobs) to one MULTI that also XACKs the batch: either all of it is
recorded and acknowledged, or none of it, and the entries stay pending. Entries left pending by a
consumer that died are claimed by another after `CLAIM_IDLE_MS` (XAUTOCLAIM), so nothing read is
lost; a handler may therefore see an event twice, rarely, and must be idempotent.

A handler is a callable `handler(events, round)`: `events` is the batch as `Event`s, oldest first;
`round.batch` is the store's MULTI (add commands to `round.batch.pipe` after `round.batch.pad()`,
or pass it to `JobQueue.enqueue(..., batch=round.batch)`); work outside Redis (a log line) goes to
`round.after(callable)`, run once the MULTI is committed. Nothing else: no reads, no remote calls,
no waiting. A handler that raises is logged and skipped for that batch; the others still run.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import redis

from .background import Loop
from .events import Event
from .store import Batch, Store

log = logging.getLogger("handoff.dispatch")


@dataclass
class Round:
    """One batch being handled: the MULTI its handlers write to, and what to run after its commit."""

    batch: Batch
    pending: list[Callable[[], object]] = field(default_factory=list)

    def after(self, work: Callable[[], object]) -> None:
        """Run `work` once the batch is committed (and acknowledged)."""
        self.pending.append(work)


Handler = Callable[[Sequence[Event], Round], None]

BLOCK_MS = 1000            # XREADGROUP waits this long for news (below the client's 5 s socket timeout)
COUNT = 100                # events per batch
CLAIM_IDLE_MS = 30_000     # an entry pending this long belongs to a dead (or stuck) consumer
CLAIM_EVERY = 5.0          # seconds between looks for such entries
PRUNE_EVERY = 300.0        # seconds between removals of departed consumers
PRUNE_IDLE_MS = 3_600_000  # a consumer idle this long with nothing pending has gone


class Dispatcher(Loop):
    """Reads the feed through the workers' consumer group and runs the handlers on each batch."""

    kind = "dispatcher"

    def __init__(self, store: Store, handlers: Sequence[Handler], *, name: str | None = None,
                 ticks: Sequence[Callable[[], object]] = (), block_ms: int = BLOCK_MS,
                 claim_idle_ms: int = CLAIM_IDLE_MS):
        self.store = store
        self.redis: redis.Redis = store.redis
        self.feed = store.keys.event_feed()
        self.group = store.keys.event_group()
        self.handlers = list(handlers)
        self.ticks = list(ticks)            # run once per loop (e.g. enqueueing due webhook retries)
        super().__init__(name or f"{socket.gethostname()}:{os.getpid()}")
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self._next_claim = 0.0
        self._next_prune = time.monotonic() + PRUNE_EVERY
        self._group_ready = False
        self._group_start = "$"             # the first time, new events only

    # -- one step -----------------------------------------------------------------------------------
    def ensure_group(self, start: str = "$") -> None:
        """Create the consumer group (and the feed) unless it exists: new events only, the first time."""
        try:
            self.redis.xgroup_create(self.feed, self.group, id=start, mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True
        self._group_start = "0"     # the group existed: should it vanish, what comes next is all new

    def poll_once(self) -> int:
        """Reclaim abandoned entries now and then, read new ones (waiting up to block_ms), dispatch;
        returns how many events were handled."""
        if not self._group_ready:
            self.ensure_group(self._group_start)
        for tick in self.ticks:
            tick()
        try:
            return self._read()
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The feed vanished (a flushed Redis) and may be back with new events: read it from its start.
            log.warning("dispatcher %s: the feed's consumer group is gone; recreating it", self.name)
            self.ensure_group(start="0")
            return 0

    def _read(self) -> int:
        handled, now = 0, time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + CLAIM_EVERY
            handled += self.reclaim()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self.prune_consumers()
        reply = self.redis.xreadgroup(self.group, self.name, {self.feed: ">"}, count=COUNT,
                                      block=self.block_ms or None)
        for _, entries in reply or []:
            handled += self.dispatch(entries)
        return handled

    def dispatch(self, entries) -> int:
        """Run the handlers on stream entries [(id, fields)], then XACK them in the same MULTI."""
        ids = [e[0] for e in entries]
        events = [Event.from_entry(i, f) for i, f in entries if f]
        batch = self.store.batch()
        round_ = Round(batch)
        for handler in self.handlers if events else ():
            try:
                handler(events, round_)
            except Exception:   # one handler's bug must not stop the feed (nor the other handlers)
                log.exception("dispatcher %s: handler %s failed on %d events", self.name,
                              getattr(handler, "__qualname__", handler), len(events))
        if ids:
            batch.pad()
            batch.pipe.xack(self.feed, self.group, *ids)
            batch.add()
        self.store.execute(batch)
        for work in round_.pending:
            try:
                work()
            except Exception:
                log.exception("dispatcher %s: after-commit work failed", self.name)
        return len(events)

    def reclaim(self) -> int:
        """Take over entries another consumer read but never acknowledged (it died), and dispatch them."""
        handled, start = 0, "0-0"
        for _ in range(10):    # bounded: at most 10 * COUNT entries per look
            reply = self.redis.xautoclaim(self.feed, self.group, self.name, self.claim_idle_ms, start_id=start,
                                          count=COUNT, justid=True)
            ids = [i for i in (reply or []) if i]
            if ids:
                handled += self.dispatch(self._entries(ids))
                log.info("dispatcher %s: reclaimed %d events left pending by another consumer", self.name, len(ids))
            # JUSTID answers only the ids; the cursor comes from a second look when there may be more.
            if len(ids) < COUNT:
                break
        return handled

    def _entries(self, ids) -> list:
        """The entries of these ids, in one round trip (trimmed ones come back without fields)."""
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(self.feed, entry_id, entry_id, count=1)
        return [(entry_id, found[0][1] if found else None) for entry_id, found in zip(ids, pipe.execute())]

    def prune_consumers(self) -> None:
        """Remove consumers long gone (a replaced worker process) that hold nothing pending."""
        for consumer in self.redis.xinfo_consumers(self.feed, self.group):
            name = consumer.get("name")
            name = name.decode() if isinstance(name, bytes) else name
            if name != self.name and not consumer.get("pending") and int(consumer.get("idle") or 0) > PRUNE_IDLE_MS:
                self.redis.xgroup_delconsumer(self.feed, self.group, name)

    # -- the loop (handoff/background.py) --------------------------------------------------------------
    def step(self) -> int:
        return self.poll_once()

    def failed(self) -> None:
        self._group_ready = False      # a restarted Redis may have lost the group (no AOF)

def build_dispatcher(runtime, *, name: str | None = None) -> Dispatcher:
    """The worker's dispatcher, with every handler this deployment uses: event webhooks (when
    EVENTS_URL is set; due retries are enqueued on each loop) and the outcome log line."""
    from .event_webhooks import build_event_webhooks
    from .outcome_log import dispatch_handler as outcome_log

    webhooks = build_event_webhooks(runtime)
    handlers: list[Handler] = [webhooks.handle] if webhooks.url else []
    handlers.append(outcome_log(runtime))
    from .texts import outcome_handler as caller_texts

    handlers.append(caller_texts(runtime.jobs))     # the caller's success/failure text (handoff/texts.py)
    from .cards import bridged_handler as hand_off_cards

    handlers.append(hand_off_cards(runtime.jobs))   # a warm recipient's hand-off card (handoff/cards.py)
    return Dispatcher(runtime.store, handlers, name=name,
                      ticks=[lambda: webhooks.claim_due(runtime.store)])

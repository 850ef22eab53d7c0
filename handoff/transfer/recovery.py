"""The sweep that moves on every transfer whose deadline has passed.

Deadlines live in the transfer's own record and in one sorted-set index, written by the same
Lua script as the transition that enters the waiting state (RQ's scheduler cannot join that
script: its registry is written by Python after the fact). Every worker process runs a sweeper
thread; claiming is atomic and leased (lua/claim.lua), so any number of sweepers can run, a
killed one costs nothing but its lease, and nothing waits for a lock to expire. At start-up the
first sweep finds everything that came due while no process was running. About once a second a
sweeper also archives the finished transfers that have been settled long enough (handoff/archive.py).
Before its worker takes a job, and every half minute for its first ten minutes, a sweeper renames the
keys an earlier release wrote under older names (handoff/migrations.py), so an upgrade strands no caller.
"""
from __future__ import annotations

import logging
import os
import socket
import time


from ..archive import Archiver
from ..background import Loop
from ..jobs import JobQueue
from ..migrations import migrate_key_layout
from ..store import Store
from .lifecycle import LEASE

log = logging.getLogger("handoff.recovery")

POLL_INTERVAL = 0.2        # seconds between sweeps: every deadline has seconds of slack
HEARTBEAT_INTERVAL = 1.0
ARCHIVE_INTERVAL = 1.0     # seconds between archive passes: nothing waits for an archive
ARCHIVE_BATCH = 100        # transfers one pass may fold (~1 ms each), so deadlines are never held up long
STALE_AFTER = 10.0         # /healthz: no sweeper heard of for this long is an outage
MIGRATE_INTERVAL = 30.0    # seconds between key-layout migrations (with nothing left: one SCAN pass)
MIGRATE_FOR = 600.0        # seconds after start they go on: a rolling deploy's old web processes write old names
MIGRATE_RETRY = 5.0        # seconds before a failed migration is tried again


class Sweeper(Loop):
    """Claims passed deadlines and queues `advance` for each transfer."""

    kind = "sweeper"

    def __init__(self, store: Store, jobs: JobQueue, *, name: str | None = None, interval: float = POLL_INTERVAL):
        super().__init__(name or f"{socket.gethostname()}:{os.getpid()}")
        self.store = store
        self.jobs = jobs
        self.interval = interval
        self.archiver = Archiver(store)
        self._last_beat = self._last_archive = 0.0
        self._born = time.monotonic()
        self._next_migration = self._born      # the first step migrates before it claims anything

    def sweep_once(self) -> int:
        """One sweep; returns how many transfers were due."""
        self._migrate_if_due()
        due = self.store.claim_deadlines(lease=LEASE)
        if due:
            batch = self.store.batch()
            for transfer_id in due:
                self.jobs.enqueue("advance", transfer_id, batch=batch)
            self.store.execute(batch)
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_INTERVAL:
            self.store.heartbeat(self.name)
            self._last_beat = now
        if now - self._last_archive >= ARCHIVE_INTERVAL:
            self._last_archive = now
            try:
                self.archiver.archive_due(limit=ARCHIVE_BATCH)
            except Exception:   # an archive bug must not back off the deadline sweeps (Loop.run does)
                log.exception("sweeper %s: archiving failed", self.name)
        return len(due)

    def step(self) -> int:
        return self.sweep_once()

    def start_thread(self):
        # Once here, before the worker (which starts its sweeper first) takes a job that would find nothing.
        self._migrate_if_due()
        return super().start_thread()

    def _migrate_if_due(self) -> None:
        """Rename old-layout keys, while this sweeper is young (never fatal: deadlines come first)."""
        now = time.monotonic()
        if now < self._next_migration or now - self._born > MIGRATE_FOR:
            return
        try:
            counts = migrate_key_layout(self.store.redis, self.store.keys)
        except Exception:
            log.exception("sweeper %s: key-layout migration failed", self.name)
            self._next_migration = now + MIGRATE_RETRY
            return
        self._next_migration = now if not counts["complete"] else now + MIGRATE_INTERVAL


def sweeper_health(store: Store) -> dict:
    """What /healthz says of the sweepers: the newest heartbeat and deadlines overdue."""
    newest = store.last_heartbeat()
    age = round(time.time() - newest[1], 1) if newest else None
    return {"sweeper": newest[0] if newest else None, "sweeper_seen_seconds_ago": age,
            "deadlines_overdue": store.overdue(slack=LEASE + STALE_AFTER),
            "sweeper_ok": age is not None and age < STALE_AFTER}

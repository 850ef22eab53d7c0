"""The sweep that moves on every transfer whose deadline has passed.

Deadlines live in the transfer's own record and in one sorted-set index, written by the same
Lua script as the transition that enters the waiting state (RQ's scheduler cannot join that
script: its registry is written by Python after the fact). Every worker process runs a sweeper
thread; claiming is atomic and leased (lua/claim.lua), so any number of sweepers can run, a
killed one costs nothing but its lease, and nothing waits for a lock to expire. At start-up the
first sweep finds everything that came due while no process was running.
"""
from __future__ import annotations

import logging
import os
import socket
import time


from ..background import Loop
from ..jobs import JobQueue
from ..store import Store
from .lifecycle import LEASE

log = logging.getLogger("handoff.recovery")

POLL_INTERVAL = 0.2        # seconds between sweeps: every deadline has seconds of slack
HEARTBEAT_INTERVAL = 1.0
STALE_AFTER = 10.0         # /healthz: no sweeper heard of for this long is an outage


class Sweeper(Loop):
    """Claims passed deadlines and queues `advance` for each transfer."""

    kind = "sweeper"

    def __init__(self, store: Store, jobs: JobQueue, *, name: str | None = None, interval: float = POLL_INTERVAL):
        super().__init__(name or f"{socket.gethostname()}:{os.getpid()}")
        self.store = store
        self.jobs = jobs
        self.interval = interval
        self._last_beat = 0.0

    def sweep_once(self) -> int:
        """One sweep; returns how many transfers were due."""
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
        return len(due)

    def step(self) -> int:
        return self.sweep_once()

def sweeper_health(store: Store) -> dict:
    """What /healthz says of the sweepers: the newest heartbeat and deadlines overdue."""
    newest = store.last_heartbeat()
    age = round(time.time() - newest[1], 1) if newest else None
    return {"sweeper": newest[0] if newest else None, "sweeper_seen_seconds_ago": age,
            "deadlines_overdue": store.overdue(slack=LEASE + STALE_AFTER),
            "sweeper_ok": age is not None and age < STALE_AFTER}

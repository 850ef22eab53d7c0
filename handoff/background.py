"""A worker's background loop (the deadline sweeper, the feed dispatcher): one step after another in
a daemon thread, until stopped; Redis going away is waited out and a bug is logged, never fatal."""
from __future__ import annotations

import logging
import threading

import redis

log = logging.getLogger("handoff.background")

MAX_BACKOFF = 5.0        # seconds between tries while Redis is away (or a step keeps failing)


class Loop:
    """Subclasses define `step()`; `interval` is the pause after a good step (0: the step waits itself)."""

    kind = "loop"            # names the loop in logs and in its thread's name
    interval = 0.0

    def __init__(self, name: str):
        self.name = name
        self._stop = threading.Event()

    def step(self) -> object:
        raise NotImplementedError

    def failed(self) -> None:
        """After a failed step (e.g. forget what a restarted Redis may have lost)."""

    def run(self) -> None:
        """Step until stopped."""
        backoff = max(self.interval, 0.2)
        while not self._stop.is_set():
            try:
                self.step()
                backoff = max(self.interval, 0.2)
                if self.interval:
                    self._stop.wait(self.interval)
                continue
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
                log.warning("%s %s: Redis unavailable (%s); retrying in %.1f s", self.kind, self.name, exc, backoff)
            except Exception:   # a bug must not stop the loop: log it and go on
                log.exception("%s %s: step failed", self.kind, self.name)
            self.failed()
            self._stop.wait(backoff)
            backoff = min(MAX_BACKOFF, backoff * 2)

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread of this process (the worker's)."""
        thread = threading.Thread(target=self.run, name=f"handoff-{self.kind}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

"""The account's calls-per-second limit: calls created through the REST API beyond it wait `queued`.

Twilio places calls created by POST /Calls and POST /Participants at the account's CPS (1 by default),
in order, and reports the wait as `queue_time`; inbound calls and <Dial> legs are never limited.
"""

import threading
import time
from collections import deque

QUEUED_MODES = ("outbound-api", "participant")     # a CallRunner mode: the call was created through the API


class OutboundQueue:
    """The calls waiting for their turn, oldest first; `settings.cps` (0 = no limit) is read on every use,
    so a change at run time applies to the calls already waiting."""

    def __init__(self, settings):
        self._settings = settings
        self._lock = threading.Lock()     # never held while a call's cv is taken (callers may hold theirs)
        self._waiting = deque()
        self._placed_at = None            # monotonic time the last call left the queue

    def join(self, call):
        """Queue a call just created; its estimated wait in seconds (also its queue_time until it is placed)."""
        with self._lock:
            if self._settings.cps:
                self._waiting.append(call)
                call.queue_time = self._wait_of(call, time.monotonic())
        return call.queue_time

    def take(self, call):
        """0 when it is the call's turn (it leaves the queue, placed now), else the seconds still to wait."""
        with self._lock:
            now = time.monotonic()
            wait = self._wait_of(call, now)
            if wait <= 0:
                if call in self._waiting:
                    self._waiting.remove(call)
                self._placed_at = now
            return max(0.0, wait)

    def due(self, call):
        """True when the call's turn has come (a wait's predicate: the queue moved up)."""
        with self._lock:
            return self._wait_of(call, time.monotonic()) <= 0

    def leave(self, call):
        """A queued call was canceled: the calls behind it move up at once."""
        with self._lock:
            if call not in self._waiting:
                return
            self._waiting.remove(call)
            behind = list(self._waiting)
        for other in behind:
            other.poke()

    def _wait_of(self, call, now):
        cps = self._settings.cps
        if not cps or call not in self._waiting:
            return 0.0
        interval = 1.0 / cps
        first = now if self._placed_at is None else max(now, self._placed_at + interval)
        return first - now + self._waiting.index(call) * interval

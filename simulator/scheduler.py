"""One background thread that runs small timed actions (party hang-ups, key presses, async callbacks)."""

import heapq
import itertools
import threading
import time


class Scheduled:
    """Handle of a scheduled action; cancel() keeps it from running."""

    def __init__(self):
        self.cancelled = False

    def cancel(self):
        """Keep the action from running."""
        self.cancelled = True


class Scheduler:
    """A heap of (due time, action) served by one daemon thread; actions must be quick."""

    def __init__(self):
        self._cv = threading.Condition()
        self._heap = []
        self._counter = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="sim-scheduler", daemon=True)
        self._thread.start()

    def after(self, seconds, fn):
        """Run fn after `seconds`; returns a handle with cancel()."""
        handle = Scheduled()
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, seconds), next(self._counter), fn, handle))
            self._cv.notify()
        return handle

    def stop(self):
        """Stop the thread; pending actions are dropped."""
        with self._cv:
            self._stopped = True
            self._cv.notify()

    def _loop(self):
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(timeout)
                if self._stopped:
                    return
                _, _, fn, handle = heapq.heappop(self._heap)
            if not handle.cancelled:
                try:
                    fn()
                except Exception:  # one failing action must not stop the scheduler
                    pass

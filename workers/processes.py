"""The worker process class `python -m workers` runs in its pool: an RQ worker plus a deadline sweeper."""
from __future__ import annotations

import logging

from rq import SimpleWorker

log = logging.getLogger("handoff.worker")


class HandoffWorker(SimpleWorker):
    """SimpleWorker (no fork per job: one Twilio client, and its pooled connections, per process)
    that also runs the deadline sweeper in a thread, so every live worker is also a timer and a
    dead one is replaced, timer included, by RQ's WorkerPool."""

    def work(self, *args, **kwargs):
        from handoff.transfer.recovery import Sweeper
        from workers.jobs import runtime

        built = runtime()
        sweeper = Sweeper(built.store, built.jobs, name=self.name)
        sweeper.start_thread()
        kwargs["with_scheduler"] = False     # deadlines are ours (handoff.transfer.recovery), not RQ's
        kwargs.setdefault("logging_level", "WARNING")
        try:
            return super().work(*args, **kwargs)
        finally:
            sweeper.stop()

"""Enqueueing RQ jobs by name, alone or in the same round trip (MULTI) as a state transition."""
from __future__ import annotations

from rq import Queue

from .store import Batch

# Jobs live in workers/jobs.py; referring to them by dotted name keeps the domain free of the
# worker package (and lets web processes enqueue without importing worker code).
JOB_MODULE = "workers.jobs"
JOB_TIMEOUT = 120          # seconds; a job is bounded by Twilio's timeouts and the gateway's retry budget


class JobQueue:
    """The transfers queue; every job takes ids, never objects, and is idempotent."""

    def __init__(self, queue: Queue):
        self.queue = queue

    def enqueue(self, name: str, *args, job_id: str | None = None, batch: Batch | None = None) -> None:
        """Run `workers.jobs.<name>(*args)` as soon as a worker is free (with the batch, if given)."""
        if batch is not None:
            batch.pad()
        self.queue.enqueue_call(f"{JOB_MODULE}.{name}", args=args, job_id=job_id,
                                pipeline=batch.pipe if batch is not None else None,
                                timeout=JOB_TIMEOUT, result_ttl=60, failure_ttl=24 * 3600)
        if batch is not None:
            batch.pad()

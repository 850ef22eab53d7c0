"""Enqueueing RQ jobs by name, alone or in the same round trip as a state transition."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from .store import Batch

# Jobs live in workers/jobs.py; referring to them by dotted name keeps the domain free of the
# worker package (and lets web processes enqueue without importing worker code).
JOB_MODULE = "workers.jobs"


class JobQueue:
    """The transfers queue; every job takes ids, never objects, and is idempotent."""

    def __init__(self, queue: Queue):
        self.queue = queue
        self._scheduled = ScheduledJobRegistry(queue=queue)

    def enqueue(self, name: str, *args, job_id: str | None = None, batch: Batch | None = None) -> None:
        """Run `workers.jobs.<name>(*args)` as soon as a worker is free."""
        pipe = batch.pipe if batch is not None else None
        self.queue.enqueue_call(f"{JOB_MODULE}.{name}", args=args, job_id=job_id, pipeline=pipe,
                                result_ttl=600, failure_ttl=7 * 24 * 3600)
        if batch is not None:
            _pad(batch)

    def schedule(self, name: str, *args, delay: float, job_id: str, batch: Batch | None = None) -> None:
        """Run `workers.jobs.<name>(*args)` after `delay` seconds (timeouts, retry intervals)."""
        when = datetime.now(timezone.utc) + timedelta(seconds=max(0.0, delay))
        job = self.queue.create_job(f"{JOB_MODULE}.{name}", args=args, job_id=job_id, result_ttl=600,
                                    failure_ttl=7 * 24 * 3600)
        pipe = batch.pipe if batch is not None else self.queue.connection.pipeline()
        self.queue.schedule_job(job, when, pipeline=pipe)
        # RQ stores whole seconds (a timer could fire up to 1 s early); keep the exact deadline.
        # workers.scheduler.PreciseScheduler reads these float scores.
        pipe.zadd(self._scheduled.key, {job.id: when.timestamp()})
        if batch is not None:
            _pad(batch)
        else:
            pipe.execute()

    def unschedule(self, job_id: str, *, batch: Batch | None = None) -> None:
        """Cancel a scheduled timer that is no longer needed (the state moved on)."""
        target = batch.pipe if batch is not None else self.queue.connection
        target.zrem(self._scheduled.key, job_id)
        target.delete(Job.key_for(job_id))
        if batch is not None:
            _pad(batch)

    def depth(self) -> int:
        """Jobs waiting to run (for /healthz)."""
        return self.queue.count


def _pad(batch: Batch) -> None:
    # RQ adds a varying number of commands to the pipeline; align the parser list with the
    # pipeline's command stack so Store.execute() pairs replies with the right parsers.
    missing = len(batch.pipe.command_stack) - len(batch.parsers)
    for _ in range(max(0, missing)):
        batch.add()

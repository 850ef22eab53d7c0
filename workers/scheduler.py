"""An RQ scheduler with sub-second precision: timeouts must fire on time, never early."""
from __future__ import annotations

import time

from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler

POLL_INTERVAL = 0.1


class PreciseScheduler(RQScheduler):
    """RQ's scheduler compares whole-second timestamps and polls once a second; we store float
    scores (handoff.jobs.JobQueue.schedule) and poll every 100 ms, so a timer fires within
    ~0.1 s of its deadline instead of up to 1 s early or 1 s late."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("interval", POLL_INTERVAL)
        super().__init__(*args, **kwargs)

    def enqueue_scheduled_jobs(self):
        """Enqueue jobs whose (float) deadline has passed."""
        self._status = self.Status.WORKING
        if not self._scheduled_job_registries and self._acquired_locks:
            self.prepare_registries()
        for registry in self._scheduled_job_registries:
            job_ids = [j.decode() if isinstance(j, bytes) else j
                       for j in self.connection.zrangebyscore(registry.key, 0, time.time(), start=0, num=1000)]
            if not job_ids:
                continue
            queue = Queue(registry.name, connection=self.connection, serializer=self.serializer)
            with self.connection.pipeline() as pipeline:
                for job in Job.fetch_many(job_ids, connection=self.connection, serializer=self.serializer):
                    if job is not None:
                        queue._enqueue_job(job, pipeline=pipeline, at_front=True)
                for job_id in job_ids:
                    registry.remove(job_id, pipeline=pipeline)
                pipeline.execute()
        self._status = self.Status.STARTED

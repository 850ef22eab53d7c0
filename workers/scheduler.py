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

    def __init__(self, *args, poll_interval: float = POLL_INTERVAL, **kwargs):
        # RQ uses `interval + 60` as an integer lock expiry, so `interval` stays a whole second;
        # our own loop polls every `poll_interval`.
        kwargs.setdefault("interval", 1)
        super().__init__(*args, **kwargs)
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.poll_interval = poll_interval

    def work(self):
        """RQ's loop, with the lock heartbeat once a second and the job check every poll_interval."""
        self._install_signal_handlers()
        self.register_birth()
        last_heartbeat = 0.0
        while not self._stop_requested:
            if self.should_reacquire_locks:
                self.acquire_locks()
            if time.monotonic() - last_heartbeat >= self.interval:
                self.heartbeat()
                last_heartbeat = time.monotonic()
            self.enqueue_scheduled_jobs()
            time.sleep(self.poll_interval)
        self.stop()

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

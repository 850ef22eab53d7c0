"""A worker process's lanes: RQ workers that each run one job at a time in a thread of the process,
so that a job waiting on Twilio holds a lane, not the process.

The process's main thread dequeues (one BLPOP per process, and only when a lane is free: a job
never waits in memory behind busy lanes) and hands each job to a free lane. Each lane is an RQ
worker of its own, with its name, registration, state, current job and execution, so `rq info`,
RQ's registries and the job's `worker_name` stay exact."""
from __future__ import annotations

import logging
import os
import queue as queues
import signal
import threading
import time

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

log = logging.getLogger("handoff.worker")

KEEP_ALIVE_EVERY = 60.0    # seconds between heartbeats of idle lanes (a registration lives 480 s)


class Lane(SimpleWorker):
    """Runs the jobs its process hands it, in its own thread; never dequeues by itself."""

    # SIGALRM (RQ's default job timeout) reaches only the main thread: a timer raises the timeout in
    # the lane's thread instead, at its next Python instruction (a blocking read ends first: the
    # gateway's HTTP timeout bounds that).
    death_penalty_class = TimerDeathPenalty

    def perform_job(self, job, queue):
        """Run the job, timed by name and outcome in this process's metrics file (handoff/metrics.py)."""
        from handoff.metrics import JobTimer

        with JobTimer(job.func_name.rpartition(".")[2]) as timer:
            timer.ok = super().perform_job(job, queue)
            return timer.ok


class Lanes:
    """A process's lanes and which of them are free; the main thread takes a free one, then a job."""

    def __init__(self, owner: SimpleWorker, count: int):
        self.lanes = [self._lane(owner, n) for n in range(1, count + 1)]
        self._cond = threading.Condition()
        self._free = list(reversed(self.lanes))    # a stack: the lane busy last (warm connections) first
        self._inbox = {lane.name: queues.SimpleQueue() for lane in self.lanes}
        self._threads: list[threading.Thread] = []
        self._dead: list[Lane] = []
        self._kept_alive = time.monotonic()

    @staticmethod
    def _lane(owner: SimpleWorker, n: int) -> Lane:
        lane = Lane(owner.queues, name=f"{owner.name}-{n}", connection=owner.connection,
                    job_class=owner.job_class, queue_class=owner.queue_class, serializer=owner.serializer,
                    prepare_for_work=False)      # the owner's host, pid and address: no round trips
        lane.hostname, lane.pid, lane.ip_address = owner.hostname, owner.pid, owner.ip_address
        return lane

    def start(self) -> None:
        """One daemon thread per lane (a cold stop must not wait for them)."""
        for lane in self.lanes:
            thread = threading.Thread(target=self._run, args=(lane,), name=f"handoff-lane-{lane.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def take(self) -> Lane:
        """A free lane, waiting for one (a stop signal interrupts the wait)."""
        with self._cond:
            while not self._free:
                self._cond.wait(1.0)
            return self._free.pop()

    def give_back(self, lane: Lane) -> None:
        """A lane taken but not used (no job came)."""
        with self._cond:
            self._free.append(lane)
            self._cond.notify_all()

    def run(self, lane: Lane, job, queue) -> None:
        """Hand a job to a lane taken with take()."""
        self._inbox[lane.name].put((job, queue))

    def idle(self) -> bool:
        """No lane runs a job."""
        with self._cond:
            return len(self._free) + len(self._dead) == len(self.lanes)

    def wait_idle(self) -> None:
        """Until every lane that still runs has finished its job (burst mode: a job may enqueue another)."""
        with self._cond:
            while len(self._free) + len(self._dead) < len(self.lanes):
                self._cond.wait(1.0)

    def keep_alive(self) -> None:
        """Heartbeat the idle lanes (a busy lane's heartbeat covers its job), at most every minute."""
        if time.monotonic() - self._kept_alive < KEEP_ALIVE_EVERY:
            return
        self._kept_alive = time.monotonic()
        with self._cond:
            idle = list(self._free)
        with self.lanes[0].connection.pipeline() as pipe:
            for lane in idle:
                lane.heartbeat(pipeline=pipe)
            pipe.execute()

    def register(self) -> None:
        """Each lane's registration, as RQ's own worker writes it (`rq info` lists the lanes)."""
        for lane in self.lanes:
            lane.register_birth()
            lane.set_state(WorkerStatus.IDLE)

    def stop(self) -> None:
        """Each lane finishes the job it runs, then its thread ends; returns when all have."""
        for lane in self.lanes:
            self._inbox[lane.name].put(None)
        for thread in self._threads:
            thread.join()

    def deregister(self) -> None:
        for lane in self.lanes:
            lane.register_death()

    def _run(self, lane: Lane) -> None:
        inbox = self._inbox[lane.name]
        while (item := inbox.get()) is not None:
            job, queue = item
            try:
                lane.execute_job(job, queue)
                lane.heartbeat()
            except Exception:
                # As RQ's own loop does on an unexpected error: this process stops (the lanes finish
                # their jobs) and the pool starts another in its place.
                log.exception("worker %s: lane failed; stopping this process, the pool replaces it", lane.name)
                with self._cond:
                    self._dead.append(lane)
                    self._cond.notify_all()
                os.kill(os.getpid(), signal.SIGTERM)
                return
            with self._cond:
                self._free.append(lane)
                self._cond.notify_all()

"""The worker process class `python -m workers` runs in its pool: an RQ worker that runs its jobs in
lanes (threads), plus a deadline sweeper and the event feed's dispatcher."""
from __future__ import annotations

import logging
import os
import signal
from contextlib import contextmanager

import redis
from rq import SimpleWorker
from rq.utils import now
from rq.worker_pool import WorkerPool

log = logging.getLogger("handoff.worker")
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
HEARTBEAT_EVERY = 5.0      # seconds: the least time between two heartbeats of a process's own registration
IDLE_BEAT = 60             # seconds an idle process waits on the queue between heartbeats (/healthz: 120 s)


@contextmanager
def _stop_signals_blocked():
    """Threads started inside never take SIGINT/SIGTERM (they inherit this mask), so the kernel gives
    them to the main thread: taken by another thread, a signal waits for the main thread's BLPOP to
    return (minutes) before its handler runs, and the pool waits for this process as long."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)   # one that came meanwhile is handled now


class HandoffWorker(SimpleWorker):
    """One worker process: takes jobs from the queue and runs each in a free lane (workers/lanes.py),
    WORKER_THREADS at a time, so a job waiting on Twilio holds a lane, not the process. It also runs
    the deadline sweeper and the feed dispatcher in threads, so every live worker is also a timer,
    and a dead one is replaced, timer included, by RQ's WorkerPool.

    SimpleWorker: no fork per job, so one runtime (one Twilio client and its pooled connections)
    per process, shared by the lanes. RQ's own loop runs in the main thread, where the signals are:
    a stop interrupts its BLPOP at once, and the lanes finish their jobs before the process ends."""

    def work(self, *args, **kwargs):
        # Until RQ installs its handlers (in super().work()), a stop request waits for the work loop,
        # which checks this flag first: no KeyboardInterrupt in the middle of start-up.
        signal.signal(signal.SIGINT, self._stop_when_started)
        signal.signal(signal.SIGTERM, self._stop_when_started)
        from handoff.dispatch import build_dispatcher
        from handoff.transfer.recovery import Sweeper
        from workers.jobs import runtime
        from workers.lanes import Lanes

        with _stop_signals_blocked():     # the recipients-file watcher and the lanes
            built = runtime()
            built.ctx.gateway     # noqa: B018  the Twilio client, built once here, not by the first lanes at once
            self._lanes = Lanes(self, built.config.worker_threads)
            self._lanes.start()
        self._taken = None
        # Started once this worker and its lanes are registered (bootstrap): a live sweeper means a worker.
        self._loops = (Sweeper(built.store, built.jobs, name=self.name),
                       build_dispatcher(built, name=self.name))   # the event feed: webhooks, outcome log
        kwargs["with_scheduler"] = False     # deadlines are ours (handoff.transfer.recovery), not RQ's
        kwargs.setdefault("logging_level", "WARNING")
        try:
            return super().work(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:   # registering
            log.warning("worker %s: Redis unavailable at start-up (%s); the pool starts another", self.name, exc)
            return False
        finally:
            for loop in self._loops:
                loop.stop()

    def bootstrap(self, *args, **kwargs):
        super().bootstrap(*args, **kwargs)     # the registrations (the lanes' too) and the command channel
        with _stop_signals_blocked():
            for loop in self._loops:
                loop.start_thread()

    def register_birth(self):
        super().register_birth()
        self._lanes.register()

    def subscribe(self):
        """RQ's command channels (`rq shutdown`…): this worker's and its lanes', on one connection."""
        channels = {self.pubsub_channel_name: self.handle_payload}
        channels.update({lane.pubsub_channel_name: lane.handle_payload for lane in self._lanes.lanes})
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**channels)
        with _stop_signals_blocked():     # RQ's pubsub thread
            self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=60, daemon=True,
                                                           exception_handler=self._pubsub_exception_handler)

    @property
    def dequeue_timeout(self) -> int:
        # RQ's BLPOP lasts 405 s, and heartbeats only between two: /healthz would call an idle worker dead.
        return IDLE_BEAT

    def heartbeat(self, timeout=None, pipeline=None):
        # RQ beats three times per job (two round trips each) for a registration that lives 480 s:
        # once every few seconds is as alive, and the lanes' jobs do not wait behind it.
        if pipeline is None and timeout is None and self.last_heartbeat is not None \
                and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self._lanes.keep_alive()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """A free lane first, then a job: a job leaves the queue only when it can start at once."""
        while True:
            lane = self._lanes.take()
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            if result is not None:
                self._taken = lane
                return result
            self._lanes.give_back(lane)
            if timeout is not None or self._lanes.idle():
                return None
            self._lanes.wait_idle()     # burst mode, queue empty: a running job may still enqueue another

    def execute_job(self, job, queue):
        lane, self._taken = self._taken, None
        self._lanes.run(lane, job, queue)

    def _stop_when_started(self, signum, frame) -> None:
        self._stop_requested = True
        self._shutdown_requested_date = now()    # a second signal within 1 s is the same request (RQ)

    def teardown(self):
        """The lanes finish their jobs, then RQ's deregistration (lanes' included); Redis gone first
        (stopped before us) is one line, not a traceback."""
        self._lanes.stop()
        try:
            self._lanes.deregister()
            super().teardown()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            log.warning("worker %s: Redis unavailable at shutdown (%s); its registration expires by itself",
                        self.name, exc)


class HandoffWorkerPool(WorkerPool):
    """RQ's WorkerPool that tells the metrics directory when a worker process has died, and stops
    quietly whenever SIGINT/SIGTERM comes, while it starts its workers included."""

    def start_workers(self, *args, **kwargs):
        # RQ installs the pool's handlers only after forking the workers: a signal before that is
        # kept, and acted on as soon as they are installed.
        self._pool_pid, self._pending_signal = os.getpid(), None
        signal.signal(signal.SIGINT, self._keep_signal)
        signal.signal(signal.SIGTERM, self._keep_signal)
        super().start_workers(*args, **kwargs)

    def _keep_signal(self, signum, frame) -> None:
        if os.getpid() != self._pool_pid:
            # A worker process forked before installing its own handlers: it has done nothing yet, so it
            # leaves at once (SystemExit here can land inside an import lock and print a traceback).
            os._exit(0)
        self._pending_signal = signum

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        if getattr(self, "_pending_signal", None) is not None:
            self.request_stop(self._pending_signal, None)

    def request_stop(self, signum=None, frame=None):
        # A worker forked (respawned) after the pool's handlers were installed inherits them until
        # it installs its own: there, a signal ends that process, it must not stop its siblings.
        if os.getpid() != getattr(self, "_pool_pid", os.getpid()):
            raise SystemExit(0)
        super().request_stop(signum, frame)

    def handle_dead_worker(self, worker_data):
        from handoff.metrics import process_exited

        super().handle_dead_worker(worker_data)
        process_exited(worker_data.pid)

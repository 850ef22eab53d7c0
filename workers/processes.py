"""The worker process class `python -m workers` runs in its pool: an RQ worker plus a deadline
sweeper and the event feed's dispatcher."""
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
    """SimpleWorker (no fork per job: one Twilio client, and its pooled connections, per process)
    that also runs the deadline sweeper in a thread, so every live worker is also a timer and a
    dead one is replaced, timer included, by RQ's WorkerPool."""

    def work(self, *args, **kwargs):
        # Until RQ installs its handlers (in super().work()), a stop request waits for the work loop,
        # which checks this flag first: no KeyboardInterrupt in the middle of start-up.
        signal.signal(signal.SIGINT, self._stop_when_started)
        signal.signal(signal.SIGTERM, self._stop_when_started)
        from handoff.dispatch import build_dispatcher
        from handoff.transfer.recovery import Sweeper
        from workers.jobs import runtime

        with _stop_signals_blocked():     # the recipients-file watcher, the sweeper, the dispatcher
            built = runtime()
            sweeper = Sweeper(built.store, built.jobs, name=self.name)
            sweeper.start_thread()
            dispatcher = build_dispatcher(built, name=self.name)   # the event feed: webhooks, outcome log
            dispatcher.start_thread()
        kwargs["with_scheduler"] = False     # deadlines are ours (handoff.transfer.recovery), not RQ's
        kwargs.setdefault("logging_level", "WARNING")
        try:
            return super().work(*args, **kwargs)
        finally:
            sweeper.stop()
            dispatcher.stop()

    def subscribe(self):
        with _stop_signals_blocked():     # RQ's pubsub thread (commands sent to this worker)
            super().subscribe()

    def _stop_when_started(self, signum, frame) -> None:
        self._stop_requested = True
        self._shutdown_requested_date = now()    # a second signal within 1 s is the same request (RQ)

    def teardown(self):
        """RQ's deregistration; Redis gone first (stopped before us) is one line, not a traceback."""
        try:
            super().teardown()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            log.warning("worker %s: Redis unavailable at shutdown (%s); its registration expires by itself",
                        self.name, exc)

    def perform_job(self, job, queue):
        """Run the job, timed by name and outcome in this process's metrics file (handoff/metrics.py)."""
        from handoff.metrics import JobTimer

        with JobTimer(job.func_name.rpartition(".")[2]) as timer:
            timer.ok = super().perform_job(job, queue)
            return timer.ok


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

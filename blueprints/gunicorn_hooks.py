"""gunicorn's settings module for the Procfile's web line (`-c python:blueprints.gunicorn_hooks`): the
Prometheus multiprocess directory's bookkeeping (PROMETHEUS_MULTIPROC_DIR, set by the Procfile), and
open live streams ended at once on a graceful stop."""
from __future__ import annotations


def on_starting(server) -> None:
    """In the master, before any worker: drop the metric files of processes that no longer run."""
    from handoff.metrics import remove_stale_files

    removed = remove_stale_files()
    if removed:
        server.log.info("metrics: removed %d file(s) of processes gone since the last run", removed)


def child_exit(server, worker) -> None:
    """A web worker died or was replaced: its live gauges stop counting (its counters stay)."""
    from handoff.metrics import process_exited

    process_exited(worker.pid)


def post_worker_init(worker) -> None:
    """Open live streams (Inspector pages, /api/events) end at once when the worker is told to stop,
    instead of holding the graceful stop until it is killed."""
    import signal
    import threading

    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        hub = getattr(worker.wsgi, "extensions", {}).get("feed_hub")
        if hub is not None:
            threading.Thread(target=hub.close, daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)


def worker_int(worker) -> None:
    """SIGINT/SIGQUIT (Ctrl-C on a bare gunicorn): end open live streams before the worker exits."""
    hub = getattr(worker.wsgi, "extensions", {}).get("feed_hub")
    if hub is not None:
        hub.close()

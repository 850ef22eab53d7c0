"""`python -m workers`: a supervised pool of RQ worker processes, each with a deadline sweeper.

Each process runs WORKER_THREADS jobs at once, in lanes (workers/lanes.py).

RQ's WorkerPool starts the processes and replaces any that dies (a crash, SIGKILL, Redis going
away), so the timers can never silently stop while the worker dyno runs.
"""
from __future__ import annotations

import signal


def _quit(signum, frame) -> None:
    raise SystemExit(0)


# First of all, before the imports (a second or more): until the pool (or the burst worker) takes
# SIGINT/SIGTERM over, either one ends start-up quietly, without a KeyboardInterrupt traceback.
signal.signal(signal.SIGINT, _quit)
signal.signal(signal.SIGTERM, _quit)

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from dotenv import load_dotenv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the pool until SIGTERM/SIGINT (`--burst`: one worker process until the queue is empty)."""
    load_dotenv()
    from handoff.config import Config, ConfigError

    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"handoff worker: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes (default: WORKER_PROCESSES, or 2)")
    parser.add_argument("--burst", action="store_true", help="work until the queue is empty, then exit")
    args = parser.parse_args(argv)
    processes = args.processes if args.processes is not None else config.worker_processes
    if processes < 1:
        print("handoff worker: --processes must be at least 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from handoff.log_masking import setup_log_masking

    setup_log_masking(config.log_pii)   # phone numbers masked in every line, unless LOG_PII=true
    from rq import Queue

    from handoff.event_webhooks import QUEUE as EVENTS_QUEUE
    from handoff.keys import Keys
    from handoff.metrics import remove_stale_files
    from workers.processes import HandoffWorker, HandoffWorkerPool

    connection = config.redis_connection(blocking=True)
    keys = Keys(config.key_prefix)
    # Transfers first: RQ takes a job from the first queue that has one, so event webhooks wait.
    queue_names = [keys.queue_name(), keys.queue_name(EVENTS_QUEUE)]
    if args.burst:
        HandoffWorker([Queue(name, connection=connection) for name in queue_names],
                      connection=connection).work(burst=True)
        return 0
    remove_stale_files()   # metrics files of processes gone since the last run (PROMETHEUS_MULTIPROC_DIR)
    HandoffWorkerPool(queue_names, connection=connection, num_workers=processes,
                      worker_class=HandoffWorker).start(logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main())

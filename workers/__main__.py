"""`python -m workers`: a supervised pool of RQ worker processes, each with a deadline sweeper.

RQ's WorkerPool starts the processes and replaces any that dies (a crash, SIGKILL, Redis going
away), so the timers can never silently stop while the worker dyno runs.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from dotenv import load_dotenv


def main(argv: list[str] | None = None) -> int:
    """Run the pool until SIGTERM/SIGINT (`--burst`: one worker until the queue is empty)."""
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
    processes = args.processes if args.processes is not None else getattr(config, "worker_processes", 2)
    if processes < 1:
        print("handoff worker: --processes must be at least 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from rq import Queue
    from rq.worker_pool import WorkerPool

    from handoff.keys import Keys
    from workers.processes import HandoffWorker

    connection = config.redis_connection(blocking=True)
    queue_name = Keys(config.key_prefix).queue_name()
    if args.burst:
        HandoffWorker([Queue(queue_name, connection=connection)], connection=connection).work(burst=True)
        return 0
    WorkerPool([queue_name], connection=connection, num_workers=processes,
               worker_class=HandoffWorker).start(logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main())

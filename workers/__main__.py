"""`python -m workers`: RQ workers for Handoff's queue, plus the precise timer scheduler.

SimpleWorker (no fork per job) keeps one Twilio client, and its pooled HTTPS connections,
per process; jobs are short and idempotent, so several processes give the concurrency.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys

from dotenv import load_dotenv

from handoff.config import Config, ConfigError
from workers.processes import run_scheduler, run_worker


def main(argv: list[str] | None = None) -> int:
    """Start N worker processes and the scheduler; stop them all on SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "2")),
                        help="worker processes (default: WORKER_PROCESSES or 2)")
    parser.add_argument("--burst", action="store_true", help="work until the queue is empty, then exit")
    args = parser.parse_args(argv)
    load_dotenv()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = Config.from_env(os.environ)
    except ConfigError as exc:
        print(f"handoff worker: {exc}", file=sys.stderr)
        return 2
    if args.burst:
        run_worker(config, burst=True)
        return 0
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=run_scheduler, args=(config,), name="scheduler", daemon=True)]
    children += [context.Process(target=run_worker, args=(config,), name=f"worker-{i}", daemon=True)
                 for i in range(max(1, args.processes))]
    for child in children:
        child.start()

    def stop(signum, frame):
        for child in children:
            if child.is_alive():
                child.terminate()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())

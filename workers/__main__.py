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
from rq import Queue, SimpleWorker

from handoff.config import Config, ConfigError
from handoff.keys import Keys


def _connection(config: Config):
    import redis

    return redis.Redis.from_url(config.redis_url)


def run_worker(config: Config, *, burst: bool = False) -> None:
    """One worker process on the transfers queue."""
    connection = _connection(config)
    queue = Queue(Keys(config.key_prefix).queue_name(), connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=burst, with_scheduler=False, logging_level="WARNING")


def run_scheduler(config: Config) -> None:
    """The timer process: moves due timeouts and retries onto the queue."""
    from workers.scheduler import PreciseScheduler

    connection = _connection(config)
    queue = Queue(Keys(config.key_prefix).queue_name(), connection=connection)
    scheduler = PreciseScheduler([queue], connection=connection, logging_level="WARNING")
    # Only one scheduler per queue runs at a time; others wait for the lock to come free.
    while True:
        scheduler.acquire_locks()
        if scheduler.acquired_locks:
            scheduler.work()
            return
        import time

        time.sleep(1)


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

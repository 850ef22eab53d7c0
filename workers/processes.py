"""The two kinds of worker-side process `python -m workers` starts (importable, so spawn can pickle them)."""
from __future__ import annotations

import time

import redis
from rq import Queue, SimpleWorker

from handoff.config import Config
from handoff.keys import Keys


def _connection(config: Config):
    # RQ blocks on BLPOP for up to its dequeue timeout: no socket timeout on the worker's client.
    options = {"ssl_cert_reqs": "none"} if config.redis_url.startswith("rediss://") and not config.redis_tls_verify else {}
    return redis.Redis.from_url(config.redis_url, **options)


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
        time.sleep(1)



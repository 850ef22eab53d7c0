"""`python -m bench.fixed_scheduler`: the service's PreciseScheduler with ONE difference, used only
by the timer benchmark (3.) to measure the timer design as it would behave once a bug is fixed.

The bug (workers/scheduler.py, reported, not fixed here): PreciseScheduler sets RQ's `interval`
to 0.1 s, and RQ derives its lock and heartbeat TTLs as `interval + 60` = 60.1, which Redis
refuses ("ERR value is not an integer or out of range" from SET ... EX / EXPIRE), so the
scheduler process dies at start-up and no timer ever fires. Here the interval is a float that
still sleeps 0.1 s but whose `+ 60` is rounded up to a whole number of seconds.
"""
from __future__ import annotations

import math
import os
import sys
import time

import redis
from rq import Queue

from handoff.config import Config
from handoff.keys import Keys
from workers.scheduler import POLL_INTERVAL, PreciseScheduler


class WholeSecondTtlInterval(float):
    """Sleeps as a float; `interval + n` (RQ's TTLs) is a whole number of seconds."""

    def __add__(self, other):
        return math.ceil(float(self) + other)

    __radd__ = __add__


def main() -> int:
    config = Config.from_env(os.environ)
    connection = redis.Redis.from_url(config.redis_url)
    queue = Queue(Keys(config.key_prefix).queue_name(), connection=connection)
    scheduler = PreciseScheduler([queue], connection=connection, logging_level="WARNING")
    scheduler.interval = WholeSecondTtlInterval(POLL_INTERVAL)
    deadline = time.monotonic() + 3600      # a benchmark helper: never outlives an hour
    while time.monotonic() < deadline:
        scheduler.acquire_locks()
        if scheduler.acquired_locks:
            scheduler.work()
            return 0
        time.sleep(1)
    return 1


if __name__ == "__main__":
    sys.exit(main())

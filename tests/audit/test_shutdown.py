"""`python -m workers` stops on SIGTERM and SIGINT within seconds, without a traceback: when idle, while
its processes start, and when Redis went away first (make run's Ctrl-C reaches Redis too)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
import redis

from devtools.embedded_redis import start_embedded_redis
from handoff.keys import Keys
from tests.conftest import ROOT

from .conftest import wait_until

PROCESSES = 2


class Pool:
    """A `python -m workers` of its own (own key prefix, own log file), in its own process group."""

    def __init__(self, service_env: dict, tmp_path, redis_url: str | None = None):
        self.prefix = f"shutdown-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, **service_env, "REDIS_KEY_PREFIX": self.prefix,
                    "WORKER_PROCESSES": str(PROCESSES), **({"REDIS_URL": redis_url} if redis_url else {})}
        self.log_path = tmp_path / f"{self.prefix}.log"
        self.redis = redis.Redis.from_url(self.env["REDIS_URL"])
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> None:
        """Every worker process is sweeping (its heartbeat is in Redis)."""
        sweepers = Keys(self.prefix).sweepers()
        wait_until(lambda: self.redis.zcard(sweepers) >= PROCESSES or self.process.poll() is not None,
                   timeout=20, message="worker processes sweeping")
        assert self.process.poll() is None, self.output

    def stop(self, sig: int, *, group: bool = False, within: float = 10.0) -> int:
        if group:   # Ctrl-C in a terminal: the whole process group gets it
            os.killpg(self.process.pid, sig)
        else:       # Heroku, honcho and the tests signal the pool process
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"not stopped within {within} s:\n{self.output}") from None

    def assert_clean(self, status: int) -> None:
        assert status == 0, self.output
        assert "Traceback" not in self.output, self.output
        assert "KeyboardInterrupt" not in self.output, self.output


@pytest.mark.parametrize("sig, group", [(signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGINT, False),
                                        (signal.SIGTERM, True)],
                         ids=["SIGTERM", "ctrl-c", "SIGINT", "SIGTERM-group"])
def test_a_running_pool_stops_cleanly(service_env, tmp_path, sig, group):
    pool = Pool(service_env, tmp_path)
    pool.wait_ready()
    pool.assert_clean(pool.stop(sig, group=group))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "ctrl-c"])
def test_a_signal_while_the_processes_start_stops_cleanly(service_env, tmp_path, sig):
    pool = Pool(service_env, tmp_path)
    # RQ prints this in each new process, before it has built anything or installed its handlers.
    wait_until(lambda: "Starting worker started with PID" in pool.output or pool.process.poll() is not None,
               timeout=20, message="a worker process forked")
    pool.assert_clean(pool.stop(sig, group=True))


def test_redis_gone_first_still_stops_cleanly(service_env, tmp_path):
    server = start_embedded_redis(tmp_path / "redis")
    try:
        pool = Pool(service_env, tmp_path, redis_url=server.url)
        pool.wait_ready()
        server.stop()
        pool.assert_clean(pool.stop(signal.SIGTERM))
    finally:
        server.stop()

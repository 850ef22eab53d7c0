"""A Handoff of its own for the event-webhook tests: EVENTS_URL points at a local receiver.

The root fixtures build one app and one worker pool per session without EVENTS_URL, so this
directory builds a second, small set (its own key prefix, agent number, app and two worker
processes) on the session's embedded Redis and simulator. Every fixture here is session-scoped
and built once, on first use.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from rq import Worker

from devtools.embedded_redis import free_port
from handoff.event_webhooks import QUEUE
from handoff.events import EventLog
from handoff.keys import Keys

from ..apps import api_caller, outcome_waiter, phone_for, served
from ..conftest import API_TOKEN, ROOT
from .receiver import Receiver

EVENTS_SECRET = "event-webhooks-test-secret-0123"
EVENTS_MAX_AGE = 10          # the smallest EVENTS_MAX_AGE_SECONDS: the give-up test stays short
AGENT = "+15005550077"       # not the root stack's number: its calls reach this stack's app
WORKER_PROCESSES = 2


@pytest.fixture(scope="session")
def receiver():
    """The user's system: records every event webhook and answers as the test scripts it."""
    server = Receiver(EVENTS_SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def events_env(service_env, receiver):
    """The root stack's environment with EVENTS_URL set, and its own prefix, port and metrics files."""
    port = free_port()
    return {**service_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PORT": str(port),
            "REDIS_KEY_PREFIX": f"events-{uuid.uuid4().hex[:8]}", "WORKER_PROCESSES": str(WORKER_PROCESSES),
            "EVENTS_URL": receiver.url, "EVENTS_SECRET": EVENTS_SECRET,
            "EVENTS_MAX_AGE_SECONDS": str(EVENTS_MAX_AGE),
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="handoff-events-metrics-")}


@pytest.fixture(scope="session")
def events_redis(events_env):
    connection = redis.Redis.from_url(events_env["REDIS_URL"])
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def events_keys(events_env) -> Keys:
    return Keys(events_env["REDIS_KEY_PREFIX"])


@pytest.fixture(scope="session")
def events_app(events_env):
    """The web app of this stack, on its own port."""
    from app import create_app

    flask_app = create_app(events_env)
    with served(flask_app, int(events_env["PORT"])):
        yield flask_app


class Workers:
    """`python -m workers` of this stack, and its RQ worker processes."""

    def __init__(self, env: dict, connection: redis.Redis, keys: Keys):
        self.env, self.redis, self.keys = env, connection, keys
        self.log_path = Path(tempfile.gettempdir()) / f"handoff-worker-{env['REDIS_KEY_PREFIX']}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT,
                                            env={**os.environ, **self.env}, stdout=log, stderr=log,
                                            start_new_session=True)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def rq_workers(self) -> list[Worker]:
        """The live RQ workers of this stack (each a process with a dispatcher thread)."""
        from rq import Queue

        queue = Queue(self.keys.queue_name(QUEUE), connection=self.redis)
        return [w for w in Worker.all(queue=queue) if w.pid and _alive(w.pid)]

    def ready(self) -> bool:
        """Every worker process registered and the feed's consumer group created by a dispatcher."""
        if len(self.rq_workers()) < WORKER_PROCESSES:
            return False
        try:
            groups = self.redis.xinfo_groups(self.keys.event_feed())
        except redis.exceptions.ResponseError:
            return False
        return any(g["name"].decode() == self.keys.event_group() for g in groups)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def events_workers(events_env, events_redis, events_keys, sim):
    """Real RQ worker processes with EVENTS_URL set; ready once the dispatchers read the feed."""
    workers = Workers(events_env, events_redis, events_keys)
    workers.start()
    try:
        sim.wait_for(workers.ready, timeout=45, interval=0.1, message=f"event workers ready ({workers.log_path})")
        yield workers
    finally:
        workers.stop()


@pytest.fixture(scope="session")
def event_log(events_redis, events_keys) -> EventLog:
    return EventLog(events_redis, events_keys)


@pytest.fixture
def events_api(events_app):
    """Call this stack's API with the bearer token: events_api("post", path, json=...)."""
    return api_caller(events_app, API_TOKEN)


@pytest.fixture
def events_phone(sim, events_app, events_workers, events_env):
    """Place an inbound call to this stack's agent number; returns once the caller is with the agent."""
    return phone_for(sim, events_env["PUBLIC_BASE_URL"], AGENT)


@pytest.fixture
def finished(events_api, sim):
    """Wait until a transfer of this stack has its outcome and return it (GET /api/transfers/{id})."""
    return outcome_waiter(events_api, sim, timeout=15)


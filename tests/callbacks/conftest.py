"""A Handoff of its own for the callback-offer tests: this directory's recipients file (every last resort
is a callback offer), EVENTS_URL pointed at a local receiver, and its own worker processes, on the
session's Redis and simulator. Every fixture that builds something is session-scoped: built once.
"""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker

from devtools.embedded_redis import free_port
from handoff.keys import Keys

from ..apps import api_caller, outcome_waiter, phone_for, served, worker_processes
from ..conftest import API_TOKEN
from ..event_webhooks.receiver import Receiver

HERE = Path(__file__).resolve().parent
AGENT = "+15005550083"          # not the root stack's number: its calls reach this stack's app
SECRET = "callback-offers-test-secret-0123"
WORKER_PROCESSES = 1
SUNDAY_NIGHT = "2026-11-22T22:00:00-05:00"      # closed: the sales rule has nobody to dial
SALES, ANN, BOB, QUIET = "+14155550971", "+14155550972", "+14155550973", "+14155550974"


@pytest.fixture(scope="session")
def cb_receiver():
    """The user's system: records every event webhook this stack delivers."""
    server = Receiver(SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cb_env(service_env, cb_receiver):
    """The root stack's environment with this directory's recipients, its own prefix, port and EVENTS_URL."""
    port = free_port()
    return {**service_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PORT": str(port),
            "TRANSFER_CONFIG": str(HERE / "recipients.yaml"), "REDIS_KEY_PREFIX": f"cb-{uuid.uuid4().hex[:8]}",
            "WORKER_PROCESSES": str(WORKER_PROCESSES), "EVENTS_URL": cb_receiver.url, "EVENTS_SECRET": SECRET,
            "HANDOFF_LOCAL": "1", "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="handoff-cb-metrics-")}


@pytest.fixture(scope="session")
def cb_app(cb_env):
    """This stack's web app, on its own port."""
    from app import create_app

    flask_app = create_app(cb_env)
    with served(flask_app, int(cb_env["PORT"])):
        yield flask_app


@pytest.fixture(scope="session")
def cb_workers(cb_env, sim):
    """`python -m workers` for this stack; ready once its RQ workers have registered and read the feed."""
    keys = Keys(cb_env["REDIS_KEY_PREFIX"])
    log_path = Path(tempfile.gettempdir()) / f"handoff-worker-{cb_env['REDIS_KEY_PREFIX']}.log"
    connection = redis.Redis.from_url(cb_env["REDIS_URL"])
    queue = Queue(keys.queue_name(), connection=connection)

    def ready() -> bool:
        if len(Worker.all(queue=queue)) < WORKER_PROCESSES:
            return False
        try:
            return any(g["name"].decode() == keys.event_group() for g in connection.xinfo_groups(keys.event_feed()))
        except redis.exceptions.ResponseError:
            return False

    try:
        with worker_processes(cb_env, log_path, sim, ready=ready, message="callback workers ready") as process:
            yield process
    finally:
        connection.close()


@pytest.fixture(scope="session")
def recipients(sim):
    """Ann and Bob answer and decline; Sales would answer (it is never open here); Quiet never answers."""
    for number in (ANN, BOB):
        sim.add_persona({"address": number, "kind": "human", "answer_after": 0.1, "press": "decline",
                         "press_after": 0.05})
    sim.add_persona({"address": SALES, "kind": "human", "answer_after": 0.1, "hangup_after": 1.0})
    sim.add_persona({"address": QUIET, "kind": "no-answer"})


@pytest.fixture
def cb_api(cb_app):
    """Call this stack's API with the bearer token: cb_api("post", path, json=...)."""
    return api_caller(cb_app, API_TOKEN)


@pytest.fixture
def cb_phone(sim, cb_app, cb_workers, cb_env, recipients):
    """Place an inbound call to this stack's agent number; returns once the caller is with the agent."""
    return phone_for(sim, cb_env["PUBLIC_BASE_URL"], AGENT)


@pytest.fixture
def finished(cb_api, sim):
    """Wait until a transfer of this stack has its outcome; returns GET /api/transfers/{id}."""
    return outcome_waiter(cb_api, sim, timeout=20)

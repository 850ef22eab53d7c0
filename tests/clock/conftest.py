"""A Handoff of its own for the clock tests: a recipients file with hours, a night rule, a rotation and
the demo on-call webhook, served with HANDOFF_DEMO=1 and dialed by its own worker processes.

The dynamic recipient is resolved by a worker against the worker's recipients file, so this stack
has its own key prefix, app, agent number and workers (on the session's Redis and simulator).
Every fixture that builds something is session-scoped: built once, on first use.
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

from ..apps import api_caller, built_app, outcome_waiter, phone_for, served, worker_processes
from ..conftest import API_TOKEN

HERE = Path(__file__).resolve().parent
AGENT = "+15005550081"        # not the root stack's number: its calls reach this stack's app
WORKER_PROCESSES = 1
SUNDAY_NIGHT = "2026-11-22T22:00:00-05:00"     # Sunday 22:00 in New York: closed, the night rule
MONDAY_MORNING = "2026-11-23T10:00:00-05:00"   # Monday 10:00 in New York: open
DESK, VOICEMAIL, DAVE, ERIN, SILENT = "+14155550801", "+14155550802", "+14155550803", "+14155550804", "+14155550805"


@pytest.fixture(scope="session")
def clock_env(service_env, tmp_path_factory):
    """The root stack's environment with this directory's recipients file, its own prefix, port and demo."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    recipients = tmp_path_factory.mktemp("clock") / "recipients.yaml"
    recipients.write_text((HERE / "recipients.yaml").read_text().replace("{base_url}", base))
    return {**service_env, "PUBLIC_BASE_URL": base, "PORT": str(port), "TRANSFER_CONFIG": str(recipients),
            "REDIS_KEY_PREFIX": f"clock-{uuid.uuid4().hex[:8]}", "WORKER_PROCESSES": str(WORKER_PROCESSES),
            "HANDOFF_DEMO": "1", "HANDOFF_LOCAL": "1",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="handoff-clock-metrics-")}


@pytest.fixture(scope="session")
def clock_app(clock_env):
    """This stack's web app (with the demo on-call endpoint), on its own port."""
    with built_app(clock_env) as flask_app:
        with served(flask_app, int(clock_env["PORT"])):
            yield flask_app


@pytest.fixture(scope="session")
def clock_workers(clock_env, sim):
    """`python -m workers` for this stack; ready once its RQ workers have registered."""
    log_path = Path(tempfile.gettempdir()) / f"handoff-worker-{clock_env['REDIS_KEY_PREFIX']}.log"
    connection = redis.Redis.from_url(clock_env["REDIS_URL"])
    queue = Queue(Keys(clock_env["REDIS_KEY_PREFIX"]).queue_name(), connection=connection)
    try:
        with worker_processes(clock_env, log_path, sim, ready=lambda: len(Worker.all(queue=queue)) >= WORKER_PROCESSES, message="clock workers ready") as process:
            yield process
    finally:
        connection.close()


@pytest.fixture
def clock_api(clock_app):
    """Call this stack's API with the bearer token: clock_api("post", path, json=...)."""
    return api_caller(clock_app, API_TOKEN)


@pytest.fixture
def clock_phone(sim, clock_app, clock_workers, clock_env):
    """Place an inbound call to this stack's agent number; returns once the caller is with the agent."""
    return phone_for(sim, clock_env["PUBLIC_BASE_URL"], AGENT)


@pytest.fixture
def finished(clock_api, sim):
    """Wait until a transfer of this stack has its outcome and return it (GET /api/transfers/{id})."""
    return outcome_waiter(clock_api, sim, timeout=20)


@pytest.fixture(scope="session")
def answering(sim):
    """Every recipient of the file answers as a person, accepts a warm transfer, and hangs up soon."""
    for number in (DESK, VOICEMAIL, DAVE, ERIN):
        sim.add_persona({"address": number, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05,
                         "hangup_after": 1.0})
    sim.add_persona({"address": SILENT, "kind": "no-answer"})

"""Fixtures: embedded Redis, the local Twilio simulator, the app on a live port, real RQ workers.

Everything is session-scoped (one set per pytest-xdist worker): tests isolate themselves by
using fresh call SIDs and their own personas, so nothing needs flushing between tests.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from redis.connection import AbstractConnection
from twilio.request_validator import RequestValidator

from devtools.embedded_redis import free_port, start_embedded_redis
from simulator.testing import TEST_SETTINGS, run_simulator
from tests.apps import api_caller, phone_for, served

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "feedface" * 4
AUTH_TOKEN = "handoff-test-auth-token"
API_TOKEN = "test-api-token-0123456789"
AGENT_NUMBER = "+15005550006"
AGENT_URL = "wss://agent.example.com/relay"
# Prometheus multiprocess mode, as the Procfile runs it: set before prometheus_client is first
# imported (by app.py), one directory per test process (xdist workers each build their own app),
# shared with that process's `python -m workers` children, which inherit it.
METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="handoff-metrics-")
atexit.register(shutil.rmtree, METRICS_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis (the embedded one), private to this test session."""
    server = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sim():
    """The local Twilio simulator, with short timings so the suite stays fast."""
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, settings=TEST_SETTINGS) as client:
        yield client


@pytest.fixture(scope="session")
def service_env(redis_server, sim):
    """The environment a deployed Handoff would have, pointed at the simulator."""
    port = free_port()
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": sim.url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "REDIS_URL": redis_server.url,
        "API_TOKEN": f"{API_TOKEN},second-token-abcdefgh", "AGENT": AGENT_URL,
        "TRANSFER_CONFIG": str(ROOT / "tests" / "fixtures" / "recipients.yaml"),
        "TRANSFER_ALLOWED_PREFIXES": "+1415555", "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "PORT": str(port), "WORKER_PROCESSES": "3",
        # Local mode (the Inspector reads what each party heard from the simulator) and the session key.
        "HANDOFF_LOCAL": "1", "SECRET_KEY": "test-inspector-secret-key-0123456789",
        "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR,
    }


@pytest.fixture(scope="session")
def app(service_env):
    """The Flask app, served on PUBLIC_BASE_URL's port so the simulator's webhooks reach it."""
    from app import create_app

    flask_app = create_app(service_env)
    with served(flask_app, int(service_env["PORT"])):
        yield flask_app


@pytest.fixture(scope="session")
def workers(service_env):
    """Real RQ worker processes (`python -m workers`), as the Procfile runs them."""
    env = {**os.environ, **service_env}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"handoff-worker-{service_env['REDIS_KEY_PREFIX']}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, stdout=log, stderr=log)
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def client(app):
    """Flask test client for the API."""
    return app.test_client()


@pytest.fixture
def api(app):
    """Call the API with the bearer token: api("post", path, json=...)."""
    return api_caller(app, API_TOKEN)


@pytest.fixture
def signer(service_env):
    """Sign a webhook the way Twilio does, for tests that post to our webhooks directly."""
    validator = RequestValidator(AUTH_TOKEN)

    def sign(path: str, params: dict) -> dict:
        return {"X-Twilio-Signature": validator.compute_signature(service_env["PUBLIC_BASE_URL"] + path, params)}

    return sign


@pytest.fixture
def phone(sim, app, workers, service_env):
    """Place an inbound call to the agent's number and wait until the caller is with the agent."""
    return phone_for(sim, service_env["PUBLIC_BASE_URL"], AGENT_NUMBER)


@pytest.fixture
def wait_transfer(api, sim):
    """Wait until a transfer is finished (or a predicate holds) and return it."""

    def wait(transfer_id: str, predicate=None, timeout: float = 15):
        predicate = predicate or (lambda t: t["status"] == "completed")

        def check():
            body = api("get", f"/api/transfers/{transfer_id}").get_json()
            return body if predicate(body) else None

        return sim.wait_for(check, timeout=timeout, message=f"transfer {transfer_id}")

    return wait


@pytest.fixture
def round_trips(monkeypatch):
    """round_trips() -> Redis sends by this thread since the last call (redis-py's one send per command or
    pipeline). The test client runs the request in this thread; the simulator's own callbacks to the
    served app, which arrive meanwhile on other threads, are not the request's."""
    sends = [0]
    real = AbstractConnection.send_packed_command
    me = threading.get_ident()

    def counting(self, command, check_health=True):
        if threading.get_ident() == me:
            sends[0] += 1
        return real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)

    def since_last() -> int:
        count, sends[0] = sends[0], 0
        return count

    return since_last

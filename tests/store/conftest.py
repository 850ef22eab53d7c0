"""A second service on the session's Redis and simulator whose finished transfers are archived after
one quiet second (ARCHIVE_AFTER_SECONDS=1), with its own key prefix, port, agent number and worker."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from devtools.embedded_redis import free_port
from handoff.keys import Keys
from tests.apps import api_caller, built_app, phone_for, served
from tests.conftest import API_TOKEN, ROOT

AGENT_NUMBER = "+15005550016"    # not the session app's: the simulator sends this one's calls here


@dataclass
class Archiving:
    """The service under test: `api(method, path, ...)`, `phone()` places a call, an Inspector session,
    its Redis and keys."""

    api: object
    phone: object
    inspector: object
    redis: redis.Redis
    keys: Keys
    base_url: str


@pytest.fixture(scope="module")
def archiving(service_env, sim):
    port = free_port()
    env = {**service_env, "REDIS_KEY_PREFIX": f"store-{uuid.uuid4().hex[:8]}", "ARCHIVE_AFTER_SECONDS": "1",
           "PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WORKER_PROCESSES": "1"}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"handoff-worker-{env['REDIS_KEY_PREFIX']}.log"
    with built_app(service_env, **{k: v for k, v in env.items() if service_env.get(k) != v}) as flask_app, \
            served(flask_app, port) as base_url, open(log_path, "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env={**os.environ, **env},
                                  stdout=log, stderr=log)
        try:
            inspector = flask_app.test_client()
            assert inspector.post("/inspector/login", data={"token": API_TOKEN}).status_code == 303
            yield Archiving(api=api_caller(flask_app, API_TOKEN), phone=phone_for(sim, base_url, AGENT_NUMBER),
                            inspector=inspector,
                            redis=redis.Redis.from_url(env["REDIS_URL"]), keys=Keys(env["REDIS_KEY_PREFIX"]),
                            base_url=base_url)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

"""The SMS tests' app: the session's Redis, simulator, agent number and workers, routing with this
directory's recipients file (planning happens in the web process; the workers send what it stored)."""
from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Queue

from handoff.keys import Keys

from ..apps import api_caller, built_app, outcome_waiter
from ..conftest import API_TOKEN

HERE = Path(__file__).resolve().parent
TEXTING, SILENT, QUIET = "+14155550901", "+14155550902", "+14155550903"


@pytest.fixture(scope="session")
def texts_api(service_env, app, workers, sim):
    """The API of an app routing with tests/texts/recipients.yaml; its recipients' personas added."""
    sim.add_persona({"address": TEXTING, "kind": "human", "answer_after": 0.1, "hangup_after": 0.5})
    sim.add_persona({"address": QUIET, "kind": "human", "answer_after": 0.1, "hangup_after": 0.5})
    sim.add_persona({"address": SILENT, "kind": "no-answer"})
    with built_app(service_env, TRANSFER_CONFIG=str(HERE / "recipients.yaml")) as flask_app:
        yield api_caller(flask_app, API_TOKEN)


@pytest.fixture
def finished(texts_api, sim):
    """Wait until a transfer has its outcome; returns GET /api/transfers/{id}."""
    return outcome_waiter(texts_api, sim, timeout=20)


@pytest.fixture(scope="session")
def queue(service_env):
    """The session's RQ queue: a test enqueues `send_text` by name, as the service does."""
    connection = redis.Redis.from_url(service_env["REDIS_URL"])
    yield Queue(Keys(service_env["REDIS_KEY_PREFIX"]).queue_name(), connection=connection)
    connection.close()


def messages_to(sim, number: str) -> list[dict]:
    """Messages.create requests the simulator accepted or refused for `number` (their form parameters)."""
    return [r["params"] for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Messages.json")
            and r["params"].get("To") == number]


def events_of(texts_api, transfer_id: str, *types: str) -> list[dict]:
    """The transfer's timeline entries of these types."""
    body = texts_api("get", f"/api/transfers/{transfer_id}").get_json()
    return [e for e in body["timeline"] if e["event"] in types]

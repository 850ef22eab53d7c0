"""The card tests' apps: the session's Redis, simulator, agent number and workers, routing with this
directory's recipients file (planning happens in the web process; the workers send what it stored).
The card links point at the session app (PUBLIC_BASE_URL); `short_grace_app` answers the same links
with CARD_GRACE_SECONDS=1, for the expiry."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ..apps import api_caller, built_app, outcome_waiter
from ..conftest import API_TOKEN

HERE = Path(__file__).resolve().parent
ACCEPTS = {"kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05}
DECLINES = {"kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05}
VOICEMAIL = {"kind": "voicemail", "answer_after": 0.1, "greeting_seconds": 0.2}


@pytest.fixture(scope="session")
def cards_app(service_env, app, workers):
    """An app routing with tests/cards/recipients.yaml."""
    with built_app(service_env, TRANSFER_CONFIG=str(HERE / "recipients.yaml")) as flask_app:
        yield flask_app


@pytest.fixture(scope="session")
def cards_api(cards_app):
    return api_caller(cards_app, API_TOKEN)


@pytest.fixture(scope="session")
def short_grace_app(service_env, app):
    """An app whose cards stop working one second after their transfer ended."""
    with built_app(service_env, CARD_GRACE_SECONDS="1") as flask_app:
        yield flask_app


@pytest.fixture
def finished(cards_api, sim):
    """Wait until a transfer has its outcome; returns GET /api/transfers/{id}."""
    return outcome_waiter(cards_api, sim, timeout=20)


def texts_to(sim, number: str) -> list[dict]:
    """Messages.create requests the simulator received for `number` (their form parameters)."""
    return [r["params"] for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Messages.json")
            and r["params"].get("To") == number]


def card_link(body: str) -> str:
    """The link in a card's SMS body."""
    return next(word for word in body.split() if "/cards/" in word)


def fetch(url: str, method: str = "GET") -> tuple[int, dict, str]:
    """GET a URL as a phone's browser would: (status, headers, body)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def path_of(url: str) -> str:
    return urlparse(url).path


def events_of(api, transfer_id: str, *types: str) -> list[dict]:
    """The transfer's timeline entries of these types."""
    body = api("get", f"/api/transfers/{transfer_id}").get_json()
    return [e for e in body["timeline"] if e["event"] in types]

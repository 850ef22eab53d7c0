"""Fixtures for the listing, live event and OpenAPI tests (the root fixtures: Redis, simulator, app, workers)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests

from tests.conftest import API_TOKEN

WARM = "+14155550150"
BILLING = "+14155550101"


def iso(epoch: float) -> str:
    """An ISO 8601 UTC time, as the listing filters take it."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def base_url(app, service_env):
    """The live app's URL (a real HTTP client, not Flask's test client: streams need a socket)."""
    return service_env["PUBLIC_BASE_URL"]


@pytest.fixture
def http(base_url):
    """A requests session against the live app, with the bearer token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_TOKEN}"
    session.base = base_url
    yield session
    session.close()


@pytest.fixture
def start(sim, phone, api):
    """Place a call (from `caller`) and ask for a transfer; returns (call SID, transfer id)."""

    def run(caller: str, **body) -> tuple[str, str]:
        sid = phone(caller)
        response = api("post", f"/api/calls/{sid}/transfers", json=body)
        assert response.status_code == 202, response.get_json()
        return sid, response.get_json()["id"]

    return run


@pytest.fixture
def since():
    """A lower bound that keeps only what this test creates (tests in one session run one at a time)."""
    return iso(time.time() - 0.001)


@pytest.fixture
def sse_timings(app, monkeypatch):
    """Shorten the streams' heartbeat, lifetime and completion grace for one test."""

    def set_(**values: float) -> None:
        for name, value in values.items():
            monkeypatch.setitem(app.config, f"HANDOFF_SSE_{name.upper()}_SECONDS", value)

    return set_

"""Fixtures for the routing API tests: a second app on this directory's recipients file.

The second app shares Redis (and the key prefix) with the session app, so a call placed with the
`phone` fixture is known to it, and the plan it stores is dialed by the session's workers; the
simulator's webhooks still reach the session app (PUBLIC_BASE_URL), which owns the same state.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps import api_caller, built_app, served  # noqa: F401  (the tests here import them from this module)

HERE = Path(__file__).resolve().parent
RECIPIENTS = HERE / "recipients.yaml"


def bearer(flask_app, service_env):
    """api(method, path, **kwargs) against flask_app with the bearer token."""
    return api_caller(flask_app, service_env["API_TOKEN"].split(",")[0])


@pytest.fixture(scope="session")
def routing_app(app, service_env):
    """An app on tests/routing_api/recipients.yaml (rules, placeholders, hidden recipients, secrets)."""
    with built_app(service_env, TRANSFER_CONFIG=str(RECIPIENTS)) as flask_app:
        yield flask_app


@pytest.fixture
def rapi(routing_app, service_env):
    """Bearer-authenticated calls to the routing app."""
    return bearer(routing_app, service_env)

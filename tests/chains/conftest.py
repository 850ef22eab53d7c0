"""The chain tests' app: the session's Redis, simulator, agent number and workers, routing with this
directory's recipients file (planning happens in the web process; the workers carry out what it stored)."""
from __future__ import annotations

from pathlib import Path

import pytest

from ..apps import api_caller, built_app, outcome_waiter
from ..conftest import API_TOKEN

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def chains_app(service_env, app, workers):
    """An app routing with tests/chains/recipients.yaml (TRANSFER_CHAIN_LIMIT: the default, 10)."""
    with built_app(service_env, TRANSFER_CONFIG=str(HERE / "recipients.yaml")) as flask_app:
        yield flask_app


@pytest.fixture(scope="session")
def chains_api(chains_app):
    return api_caller(chains_app, API_TOKEN)


@pytest.fixture
def finished(chains_api, sim):
    """Wait until a transfer has its outcome; returns GET /api/transfers/{id}."""
    return outcome_waiter(chains_api, sim, timeout=20)

"""Fixtures for the audit and log tests: an app whose API tokens carry labels, on the session's Redis."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.apps import api_caller, built_app, wait_until  # noqa: F401  (the tests here import them from here)

OPS_TOKEN = "ops-secret-token-0123456789abcdef"
BOT_TOKEN = "bot-secret-token-fedcba9876543210"
LABELLED_TOKENS = f"ops:{OPS_TOKEN},agent-bot:{BOT_TOKEN}"


@pytest.fixture(scope="session")
def labelled_app(app, service_env):
    """An app whose API_TOKEN is 'ops:<token>,agent-bot:<token>' (same Redis and key prefix)."""
    with built_app(service_env, API_TOKEN=LABELLED_TOKENS) as flask_app:
        yield flask_app


@pytest.fixture
def as_token(labelled_app):
    """as_token(token)(method, path, **kwargs): a request to the labelled app with that bearer token."""
    return lambda token: api_caller(labelled_app, token)


@pytest.fixture
def audit(app):
    """The session app's audit log (same stream as the labelled app's)."""
    return app.extensions["audit"]


def worker_log(service_env) -> Path:
    """The session workers' log file (tests/conftest.py's `workers` fixture writes it)."""
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"handoff-worker-{service_env['REDIS_KEY_PREFIX']}.log"

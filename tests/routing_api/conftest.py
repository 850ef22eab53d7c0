"""Fixtures for the routing API tests: a second app on this directory's recipients file.

The second app shares Redis (and the key prefix) with the session app, so a call placed with the
`phone` fixture is known to it, and the plan it stores is dialed by the session's workers; the
simulator's webhooks still reach the session app (PUBLIC_BASE_URL), which owns the same state.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
RECIPIENTS = HERE / "recipients.yaml"


@contextlib.contextmanager
def built_app(service_env: dict, **overrides: str):
    """create_app with overrides; stops its file watcher and restores SIGHUP's handler afterwards."""
    from app import create_app

    previous = signal.getsignal(signal.SIGHUP) if threading.current_thread() is threading.main_thread() else None
    flask_app = create_app({**service_env, **overrides})
    flask_app.extensions["previous_sighup"] = previous
    try:
        yield flask_app
    finally:
        stop = flask_app.extensions.get("routing_watch")
        if stop is not None:
            stop.set()
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)


@contextlib.contextmanager
def served(flask_app, port: int):
    """Serve an app on 127.0.0.1:port in a daemon thread."""
    server = make_server("127.0.0.1", port, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def bearer(flask_app, service_env):
    """api(method, path, **kwargs) against flask_app with the bearer token."""
    client = flask_app.test_client()
    token = service_env["API_TOKEN"].split(",")[0]

    def call(method, path, **kwargs):
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return getattr(client, method)(path, headers=headers, **kwargs)

    return call


@pytest.fixture(scope="session")
def routing_app(app, service_env):
    """An app on tests/routing_api/recipients.yaml (rules, placeholders, hidden recipients, secrets)."""
    with built_app(service_env, TRANSFER_CONFIG=str(RECIPIENTS)) as flask_app:
        yield flask_app


@pytest.fixture
def rapi(routing_app, service_env):
    """Bearer-authenticated calls to the routing app."""
    return bearer(routing_app, service_env)

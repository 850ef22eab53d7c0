"""Extra apps for tests that need settings the session app does not have (on the session's Redis)."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from simulator.testing import handoff_number


@contextlib.contextmanager
def built_app(service_env: dict, **overrides: str):
    """create_app with overrides; afterwards its file watcher stops, and SIGHUP's handler and the
    log masking (both process-wide) are as they were."""
    from app import create_app
    from handoff.log_masking import masking_enabled, setup_log_masking

    masked = masking_enabled()
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
        setup_log_masking(not masked)


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


def api_caller(flask_app, token: str):
    """Call an app's API with a bearer token: call("post", path, json=...)."""
    client = flask_app.test_client()

    def call(method, path, **kwargs):
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return getattr(client, method)(path, headers=headers, **kwargs)

    return call


def phone_for(sim, base_url: str, agent_number: str, *, default_caller: str = "+14155550100"):
    """Point `agent_number` at the app at `base_url`; place(caller) calls it and returns once the caller
    is with the agent."""
    sim.set_number(agent_number, **handoff_number(base_url))

    def place(caller: str = default_caller, *, sip: bool = False, persona: dict | None = None) -> str:
        sim.add_persona({"address": caller, "kind": "human", **(persona or {})})
        sid = sim.place_call(caller, agent_number, sip=sip)
        sim.wait_for(lambda: sim.call(sid)["activity"] == "with-agent", timeout=5, message="caller with agent")
        return sid

    return place


def outcome_waiter(api, sim, *, timeout: float):
    """wait(transfer_id) until the transfer has its outcome; returns GET /api/transfers/{id}."""

    def wait(transfer_id: str, timeout: float = timeout):
        def check():
            body = api("get", f"/api/transfers/{transfer_id}").get_json()
            return body if body.get("outcome") else None

        return sim.wait_for(check, timeout=timeout, message=f"transfer {transfer_id} finished")

    return wait


def wait_until(predicate, *, timeout: float, message: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy (a condition, not a fixed sleep); that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message}: not within {timeout} s")
        time.sleep(interval)


@contextlib.contextmanager
def worker_processes(env: dict, log_path, sim, *, ready, message: str):
    """`python -m workers` with `env` in its own session, until `ready()`; stopped (SIGTERM, then SIGKILL to
    its whole group) afterwards."""
    root = Path(__file__).resolve().parent.parent
    with open(log_path, "a") as log:
        process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=root, env={**os.environ, **env},
                                   stdout=log, stderr=log, start_new_session=True)
    try:
        sim.wait_for(ready, timeout=45, interval=0.1, message=f"{message} ({log_path})")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

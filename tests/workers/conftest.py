"""Fixtures for the worker tests: the service as production runs it (tests/faults/stack.py), with ONE
worker process, so that what runs at once runs in that process's lanes; the simulator plays Twilio."""
from __future__ import annotations

import pytest

from simulator.model import FINAL_STATUSES
from simulator.testing import TEST_SETTINGS, SimClientError, run_simulator
from tests.faults.stack import ACCOUNT_SID, AUTH_TOKEN, Stack

LANES = 8


@pytest.fixture(scope="module")
def sim():
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, settings=TEST_SETTINGS) as client:
        yield client


@pytest.fixture(scope="module")
def stack(sim, tmp_path_factory):
    """Redis + web + `python -m workers --processes 1` with LANES lanes, for this module."""
    stack = Stack(sim, tmp_path_factory.mktemp("stack"), worker_processes=1, web_concurrency=1)
    stack.env["WORKER_THREADS"] = str(LANES)
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def guard(stack, sim):
    """Before: every process up. After: the simulator's settings restored, calls left up hung up."""
    stack.ensure_running()
    before_calls = {c["sid"] for c in sim.calls()}
    settings_before = sim.settings()
    yield
    changed = {k: v for k, v in settings_before.items() if sim.settings().get(k) != v}
    if changed:
        sim.settings(**changed)
    for call in sim.calls():
        if call["sid"] not in before_calls and call["status"] not in FINAL_STATUSES:
            try:
                sim.hangup(call["sid"])
            except SimClientError:
                pass

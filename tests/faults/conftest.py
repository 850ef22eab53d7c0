"""Fixtures for the fault tests: the service as production runs it (real processes), the simulator
playing Twilio, fault rules, and the processes' logs attached to every failing test's report.

- `sim`    (module): the Twilio simulator, in this process (it plays Twilio; it is never restarted).
- `stack`  (module): tests/faults/stack.py's Stack: embedded Redis (AOF) + the Procfile's web and
           worker as child processes. A test may stop, kill or restart any of them: before the next
           test the guard below starts whatever is down again.
- `faults` (test):   installs simulator fault rules; every rule is cleared when the test ends.
- `legs`   (test):   outbound legs to an address placed during this test.
Each test also gets its simulator settings restored and every call it left up hung up.
"""
from __future__ import annotations

import pytest

from simulator.model import FINAL_STATUSES
from simulator.testing import TEST_SETTINGS, SimClientError, run_simulator

from .stack import ACCOUNT_SID, AUTH_TOKEN, Stack


@pytest.fixture(scope="module")
def sim():
    """The local Twilio simulator (short timings), private to this module's stack."""
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, settings=TEST_SETTINGS) as client:
        yield client


@pytest.fixture(scope="module")
def stack(sim, tmp_path_factory):
    """Redis + web + worker as real processes, for this module; always torn down."""
    stack = Stack(sim, tmp_path_factory.mktemp("stack"))
    stack.start()
    try:
        yield stack
    finally:
        stack.close()


class Faults:
    """The simulator's fault rules (POST/GET/DELETE /sim/faults), for one test."""

    def __init__(self, sim):
        self.sim = sim
        self.added: list[dict] = []

    def add(self, **rule) -> dict:
        stored = self.sim.add_fault(**rule)
        self.added.append(stored)
        return stored

    def state(self) -> dict:
        return self.sim.faults()

    def clear(self) -> None:
        self.sim.clear_faults()

    def hits(self, rule: dict | None = None) -> list[dict]:
        """Times a rule (default: any rule this test added) fired."""
        ids = {r.get("id") for r in ([rule] if rule else self.added)}
        return [h for h in self.state().get("hits", []) if h.get("rule") in ids]

    def assert_hit(self, rule: dict, what: str) -> None:
        """The fault really happened (else the test would not test what it says)."""
        assert self.hits(rule), f"fault rule never matched ({what}): {rule}; all hits: {self.state().get('hits')}"


@pytest.fixture
def faults(sim):
    return Faults(sim)


@pytest.fixture(autouse=True)
def _fault_test_guard(request, stack, sim):
    """Before: every process up and ready. After: faults cleared, settings restored, calls hung up."""
    request.node._faults_stack = stack
    request.node._faults_marks = stack.log_marks()
    stack.requested_transfers.clear()
    stack.ensure_running()
    before_calls = {c["sid"] for c in sim.calls()}
    settings_before = sim.settings()
    request.node._faults_before_calls = before_calls
    yield
    Faults(sim).clear()
    changed = {k: v for k, v in settings_before.items() if sim.settings().get(k) != v}
    if changed:
        sim.settings(**changed)
    for call in sim.calls():
        if call["sid"] not in before_calls and call["status"] not in FINAL_STATUSES:
            try:
                sim.hangup(call["sid"])
            except SimClientError:
                pass


@pytest.fixture
def legs(request, sim):
    """legs(address): outbound calls to `address` placed during this test, oldest first."""

    def find(address: str) -> list[dict]:
        before = request.node._faults_before_calls
        return [c for c in sim.calls() if c["to"] == address and c["direction"].startswith("outbound")
                and c["sid"] not in before]

    return find


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach what each process logged during a failing test (and the simulator's faults and errors)."""
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "_faults_stack", None)
    if stack is None or not report.failed or getattr(item, "_faults_logged", False):
        return
    item._faults_logged = True
    for name, text in stack.logs_since(getattr(item, "_faults_marks", None)).items():
        report.sections.append((f"{name} log during this test ({stack.logs[name]})", text))
    for transfer_id in stack.requested_transfers:
        transfer = stack.get_transfer(transfer_id)
        text = "(the API did not answer)" if transfer is None else "\n".join(
            [f"status={transfer.get('status')} outcome={transfer.get('outcome')} "
             f"detail={transfer.get('outcome_detail')!r}"] +
            [" ".join(f"{k}={v}" for k, v in event.items()) for event in transfer.get("timeline", [])])
        report.sections.append((f"transfer {transfer_id} (GET /api/transfers)", text))
    try:
        state = Faults(stack.sim).state()
        report.sections.append(("simulator fault rules and hits", _pretty(state)))
    except Exception as exc:
        report.sections.append(("simulator fault rules and hits", f"(unavailable: {exc!r})"))
    try:
        before = getattr(item, "_faults_before_calls", set())
        calls = [(c["sid"], c["from"], c["to"], c["status"], c["activity"]) for c in stack.sim.calls()
                 if c["sid"] not in before]
        report.sections.append(("simulator calls of this test", "\n".join(map(str, calls)) or "(none)"))
        report.sections.append(("simulator errors (last 20)", _pretty(stack.sim.errors()[-20:])))
    except Exception as exc:
        report.sections.append(("simulator state", f"(unavailable: {exc!r})"))


def _pretty(value) -> str:
    import json

    return json.dumps(value, indent=1, default=str)[:20000]

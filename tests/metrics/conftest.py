"""Fixtures for /metrics: the service exactly as the Procfile runs it (gunicorn with two workers and
`python -m workers` with two RQ processes, as real processes), with its own Redis, its own Twilio
simulator and its own PROMETHEUS_MULTIPROC_DIR, so every figure scraped is this module's doing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.testing import TEST_SETTINGS, run_simulator
from tests.faults.stack import ACCOUNT_SID, AUTH_TOKEN, Stack


@pytest.fixture(scope="module")
def stack_sim():
    """The simulator the stack's processes talk to (this module's alone)."""
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, settings=TEST_SETTINGS) as client:
        yield client


@pytest.fixture(scope="module")
def stack(stack_sim, tmp_path_factory):
    """Redis + the Procfile's web and worker lines, sharing one metrics directory (as on one dyno)."""
    run_dir = tmp_path_factory.mktemp("metrics-stack")
    stack = Stack(stack_sim, run_dir)
    stack.metrics_dir = run_dir / "prometheus"
    stack.env["PROMETHEUS_MULTIPROC_DIR"] = str(stack.metrics_dir)
    # A previous run's file (its process is gone): starting the processes must remove it.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stack.metrics_dir.mkdir()
    stack.stale_file = stack.metrics_dir / f"counter_{int(gone.stdout)}.db"
    stack.stale_file.write_bytes(b"")
    stack.start()
    try:
        yield stack
    finally:
        stack.close()

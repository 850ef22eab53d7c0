"""When things go wrong the runner says so in a line and an exit status, never a traceback, and stops
everything it started: a stack that will not start, a simulator that refuses a request, a call that
never reaches the agent, Ctrl-C or SIGTERM while a stack starts or while scenarios run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from devtools.processes import processes_with
from tests.apps import wait_until

ROOT = Path(__file__).resolve().parents[2]
SLOW = """\
    recipients: {recipients}
    clock: 2026-11-24T14:00:00-05:00
    scenarios:
      - name: the front desk rings for a long time
        recipients: {front_desk: {does: never-answers}}
        start: {to: front_desk}
        expect: {outcome: transfer-failed-timeout}
"""


def runner(tmp_path: Path, *args, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """The runner as a user starts it, its stacks' directories under tmp_path (TMPDIR)."""
    home = tmp_path / "tmp"
    home.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "devtools.scenarios", "run", "--own-stack", *map(str, args)],
                            cwd=ROOT, env={**os.environ, "TMPDIR": str(home), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def assert_nothing_left(tmp_path: Path) -> None:
    wait_until(lambda: not processes_with(str(tmp_path / "tmp")), timeout=5,
               message=f"left running: {left_running(tmp_path)}")


def left_running(tmp_path: Path) -> list[str]:
    """What a stack under tmp_path left running: "pid: command" lines."""
    return [f"{pid}: {command[:120]}" for pid, command in processes_with(str(tmp_path / "tmp")).items()]


def test_a_stack_that_does_not_start_is_one_line_with_its_complaint(scenario_file, tmp_path):
    path = scenario_file(SLOW)
    process = runner(tmp_path, path, env={"HANDOFF_CLOCK": "not a time"})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    line = next(line for line in err.splitlines() if line.startswith("scenarios: "))
    assert "examples/recipients.yaml: the local stack did not start: honcho (web + worker) exited" in line
    assert "it said: " in line and "HANDOFF_CLOCK: 'not a time' is not an ISO 8601" in line
    assert "stack.log" in line and "Traceback" not in err and out == ""
    assert_nothing_left(tmp_path)


def test_a_simulator_refusing_a_setting_stops_the_stack_it_started(scenario_file, tmp_path):
    path = scenario_file(SLOW)
    process = runner(tmp_path, path, "--sim-set", "no_such_setting=1")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "scenarios: --sim-set: POST http://127.0.0.1:" in err and "no_such_setting" in err, err
    assert "Traceback" not in err
    assert_nothing_left(tmp_path)


def test_a_call_that_never_reaches_the_agent_is_an_error_line(scenario_file, run_scenarios, stack):
    """The service's /voice/incoming answer is lost: the caller waits in silence, the scenario gives up."""
    faults = f"{stack.sim_url}/sim/faults"
    requests.post(faults, json={"target": "webhook", "url_contains": "/voice/incoming", "action": "drop"},
                  auth=stack.sim_auth, timeout=5).raise_for_status()
    try:
        path = scenario_file(SLOW.replace("    expect:", "    timeout: 2\n        expect:"))
        code, out, err = run_scenarios(path)
    finally:
        requests.delete(faults, auth=stack.sim_auth, timeout=5).raise_for_status()
    assert code == 1, out + err
    assert "0 passed, 0 failed, 1 errors" in out
    assert "  error: the caller never reached the agent within 2 s (activity waiting-for-document, status " in out
    assert "Traceback" not in out + err


def _interrupt(tmp_path, scenario_file, sig: int, when: str) -> tuple[int, str]:
    process = runner(tmp_path, scenario_file(SLOW), "--keep-logs")
    seen = []
    while not any(when in line for line in seen):
        line = process.stderr.readline()
        assert line, f"the runner ended before {when!r}: {''.join(seen)}"
        seen.append(line)
    process.send_signal(sig)
    began = time.monotonic()
    out, err = process.communicate(timeout=60)
    took = time.monotonic() - began
    err = "".join(seen) + err
    assert "Traceback" not in err, err
    assert "scenarios: interrupted" in err, err
    assert_nothing_left(tmp_path)
    assert took < 15, f"{took:.1f} s to stop"
    return process.returncode, err


def test_ctrl_c_while_scenarios_run_hangs_up_and_stops_the_stack(scenario_file, tmp_path):
    code, err = _interrupt(tmp_path, scenario_file, signal.SIGINT, "running against")
    assert code == 1
    assert "logs of the stacks started here: " in err


def test_ctrl_c_while_the_stack_starts_stops_it_once_it_is_up(scenario_file, tmp_path):
    code, _ = _interrupt(tmp_path, scenario_file, signal.SIGINT, "starting a local stack")
    assert code == 1


def test_sigterm_stops_the_run_like_ctrl_c(scenario_file, tmp_path):
    code, _ = _interrupt(tmp_path, scenario_file, signal.SIGTERM, "running against")
    assert code == 1

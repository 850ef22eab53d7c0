"""One local stack for the scenario runner's tests: what `make run` starts (embedded Redis, the
simulator, web + worker) serving examples/recipients.yaml, on free ports and a temporary state
directory. The runner uses it as it would use a running `make run` (--use-running --var DIR).

Session-scoped: started once per test process, on first use; the simulator speaks fast.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests

from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = ROOT / "examples" / "recipients.yaml"
FAST = {"speech_seconds_per_char": 0.004, "amd_seconds": 0.2, "play_seconds": 0.5}


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """A LocalStack serving examples/recipients.yaml (its log in the same temporary directory)."""
    home = tmp_path_factory.mktemp("scenario-stack")
    with open(home / "stack.log", "w") as log:
        with LocalStack.isolated(home, RECIPIENTS, output=log) as local:
            requests.post(f"{local.sim_url}/sim/settings", json=FAST, auth=local.sim_auth, timeout=5).raise_for_status()
            yield local


@pytest.fixture
def scenario_file(tmp_path):
    """Write a scenario file (YAML text, dedented) into tmp_path; its path."""

    def write(text: str, name: str = "scenarios.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).replace("{recipients}", str(RECIPIENTS)))
        return path

    return write


@pytest.fixture
def run_scenarios(stack, capsys):
    """Run the runner in this process against the session's stack: (exit status, stdout, stderr)."""
    from devtools.scenarios.cli import main

    def run(*args: str | Path) -> tuple[int, str, str]:
        code = main(["run", *map(str, args), "--use-running", "--var", str(stack.var_dir)])
        out, err = capsys.readouterr()
        return code, out, err

    return run

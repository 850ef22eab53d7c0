"""Every scenario in examples/scenarios/ passes: what `make scenarios` runs on a fresh clone, as CI
runs it. The runner starts its own stack (free ports, a temporary directory), so this test runs next
to others; --jobs keeps its wall time near that of the longest scenario (~40 s)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from devtools.scenarios.files import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "scenarios"


def test_every_example_scenario_passes(tmp_path):
    total = len(load([EXAMPLES]))
    result = subprocess.run(
        [sys.executable, "-m", "devtools.scenarios", "run", str(EXAMPLES), "--own-stack", "--jobs", "16",
         "--junit", str(tmp_path / "scenarios.xml")],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = f"exit status {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    counts = re.search(r"^(\d+) passed, (\d+) failed, (\d+) errors", result.stdout, re.M)
    assert counts and counts.groups() == (str(total), "0", "0"), output
    assert "Traceback" not in result.stderr, output

"""The multiprocess directory's bookkeeping at start-up: a previous run's files go, live processes' stay."""
from __future__ import annotations

import os
import subprocess
import sys

from handoff.metrics import remove_stale_files


def test_only_files_of_processes_that_are_gone_are_removed(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead, alive = int(gone.stdout), os.getpid()
    names = [f"counter_{dead}.db", f"histogram_{dead}.db", f"gauge_livesum_{dead}.db",
             f"counter_{alive}.db", f"gauge_livesum_{alive}.db", "notes.txt"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert remove_stale_files(str(tmp_path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{alive}.db", f"gauge_livesum_{alive}.db", "notes.txt"])

"""A job for the lane tests, run by the real worker process (which imports it from the repository)."""
from __future__ import annotations

import time


def spin(seconds: float) -> None:
    """Stay busy for `seconds`, in Python, in short steps (a job that outlives a short timeout)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.02)

"""What time it is for routing: the real clock, or in local mode a set one (HANDOFF_CLOCK, a request's `at`).

A set clock is frozen at its instant, or moving: it starts there when it is made (the process
starts) and runs with real time. A transfer keeps the instant its routing ran at (`clock_at`) with
its creation time (`created_ts`): whatever it asks later (a dynamic recipient dialed further down
the chain) sees that instant moved on by the real time elapsed since.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Mapping

EXAMPLE = "2026-11-23T10:00:00-05:00"


def parse_instant(value: str) -> datetime:
    """An ISO 8601 date and time with a UTC offset (or Z); ValueError saying what is wrong otherwise."""
    text = (value or "").strip()
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time (e.g. {EXAMPLE})") from None
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: give one, e.g. {EXAMPLE}")
    from .routing.hours import check_instant   # the range hours, rules and rotations can evaluate

    return check_instant(instant)


class Clock:
    """`now()` as an aware UTC datetime: real time, or a set instant (frozen, or moving from when it was made)."""

    def __init__(self, start: datetime | None = None, *, moving: bool = False, started: float | None = None):
        if start is not None and start.tzinfo is None:
            raise ValueError("a clock's start needs a UTC offset")
        self.start = start
        self.moving = moving and start is not None
        self._started = time.monotonic() if started is None else started

    @classmethod
    def parse(cls, value: str, *, started: float | None = None) -> "Clock":
        """HANDOFF_CLOCK: '<ISO time>' or 'frozen:<ISO time>' (frozen), 'moving:<ISO time>' (runs from now)."""
        text = (value or "").strip()
        kind, sep, rest = text.partition(":")
        moving = False
        if sep and kind in ("frozen", "moving"):
            text, moving = rest, kind == "moving"
        return cls(parse_instant(text), moving=moving, started=started)

    @property
    def is_real(self) -> bool:
        return self.start is None

    def now(self) -> datetime:
        if self.start is None:
            return datetime.now(timezone.utc)
        start = self.start.astimezone(timezone.utc)
        return start + timedelta(seconds=time.monotonic() - self._started) if self.moving else start

    def describe(self) -> str:
        if self.start is None:
            return "real time"
        return f"{'moving from' if self.moving else 'frozen at'} {self.start.isoformat()}"

    def __repr__(self) -> str:
        return f"Clock({self.describe()})"


REAL = Clock()


def transfer_now(fields: Mapping[str, str], clock: Clock = REAL, *, now_ts: float | None = None) -> datetime:
    """A transfer's now: its `clock_at` moved on by the real time since `created_ts`; without one, `clock`'s now."""
    at = fields.get("clock_at") or ""
    if not at:
        return clock.now()
    start = datetime.fromisoformat(at)
    try:
        elapsed = (time.time() if now_ts is None else now_ts) - float(fields.get("created_ts") or "")
    except ValueError:
        elapsed = 0.0    # not stored yet (the transfer is being created): its own instant
    return start + timedelta(seconds=max(0.0, elapsed))

"""The clock itself: HANDOFF_CLOCK frozen or moving, only in local mode, and a transfer's own time."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from handoff.clock import REAL, Clock, parse_instant, transfer_now
from handoff.config import Config, ConfigError

GOOD = {
    "TWILIO_ACCOUNT_SID": "AC" + "ab" * 16, "TWILIO_AUTH_TOKEN": "token", "PUBLIC_BASE_URL": "https://h.example.com/",
    "REDIS_URL": "redis://localhost:6379/0", "API_TOKEN": "0123456789abcdef", "AGENT": "wss://agent.example.com/r",
}
MONDAY = "2026-11-23T10:00:00-05:00"
MONDAY_UTC = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
LOCAL_ONLY = "HANDOFF_CLOCK: only in local mode (HANDOFF_LOCAL=1); production always uses the real clock"


@pytest.mark.parametrize("value", [MONDAY, f"frozen:{MONDAY}", f"  {MONDAY} ", "2026-11-23T15:00:00Z"])
def test_a_frozen_clock_stays_at_its_instant(value):
    clock = Clock.parse(value, started=time.monotonic() - 100)    # made 100 s ago: it has not moved
    assert not clock.is_real and not clock.moving and "frozen at" in clock.describe()
    now = clock.now()
    assert now == MONDAY_UTC and now.utcoffset() == timedelta(0)


def test_a_moving_clock_starts_at_its_instant_when_made_and_runs_with_real_time():
    five_seconds_ago = time.monotonic() - 5
    clock = Clock.parse(f"moving:{MONDAY}", started=five_seconds_ago)
    assert clock.moving and "moving from" in clock.describe()
    elapsed = (clock.now() - MONDAY_UTC).total_seconds()
    assert 5 <= elapsed < 7
    fresh = Clock.parse(f"moving:{MONDAY}")     # made now: starts at the instant itself
    assert 0 <= (fresh.now() - MONDAY_UTC).total_seconds() < 1


def test_the_real_clock_is_real_time():
    assert REAL.is_real and Clock().is_real
    assert abs((REAL.now() - datetime.now(timezone.utc)).total_seconds()) < 1
    assert REAL.now().tzinfo is not None


@pytest.mark.parametrize("value,problem", [
    ("2026-11-23T10:00:00", "no UTC offset"), ("moving:2026-11-23T10:00:00", "no UTC offset"),
    ("tomorrow at ten", "not an ISO 8601"), ("moving:", "not an ISO 8601"), ("sometimes:" + MONDAY, "not an ISO 8601"),
    ("0001-01-01T00:00:00+05:00", "out of range"),
])
def test_a_malformed_clock_says_what_is_wrong(value, problem):
    with pytest.raises(ValueError, match=problem):
        Clock.parse(value)


def test_config_reads_handoff_clock_in_local_mode():
    frozen = Config.from_env({**GOOD, "HANDOFF_LOCAL": "1", "HANDOFF_CLOCK": MONDAY}).clock
    assert frozen is not None and frozen.now() == MONDAY_UTC and not frozen.moving
    moving = Config.from_env({**GOOD, "HANDOFF_LOCAL": "true", "HANDOFF_CLOCK": f"moving:{MONDAY}"}).clock
    assert moving is not None and moving.moving and moving.now() >= MONDAY_UTC
    assert Config.from_env({**GOOD, "HANDOFF_LOCAL": "1"}).clock is None       # local, real time
    assert Config.from_env(GOOD).clock is None                                  # production: never a clock


@pytest.mark.parametrize("local", [None, "0", "false"])
def test_handoff_clock_without_local_mode_is_a_config_error(local):
    env = {**GOOD, "HANDOFF_CLOCK": MONDAY, **({"HANDOFF_LOCAL": local} if local is not None else {})}
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    assert str(info.value) == LOCAL_ONLY


def test_a_malformed_handoff_clock_is_one_line_naming_it():
    with pytest.raises(ConfigError) as info:
        Config.from_env({**GOOD, "HANDOFF_LOCAL": "1", "HANDOFF_CLOCK": "2026-11-23T10:00:00"})
    message = str(info.value)
    assert message.startswith("HANDOFF_CLOCK: ") and "UTC offset" in message and "\n" not in message


def test_the_app_refuses_to_start_with_a_clock_outside_local_mode():
    from app import create_app

    with pytest.raises(SystemExit) as info:
        create_app({**GOOD, "REDIS_URL": "redis://127.0.0.1:1/0", "HANDOFF_LOCAL": "0", "HANDOFF_CLOCK": MONDAY})
    assert str(info.value) == f"handoff: {LOCAL_ONLY}"


def test_a_transfers_time_runs_on_from_its_at():
    fields = {"clock_at": "2026-11-23T08:59:58-05:00", "created_ts": "1000.0"}
    assert transfer_now(fields, now_ts=1000.0) == parse_instant("2026-11-23T08:59:58-05:00")
    assert transfer_now(fields, now_ts=1003.5) == parse_instant("2026-11-23T09:00:01.5-05:00")
    # the transfer's instant wins over the service clock; without one, the service clock answers
    assert transfer_now(fields, Clock.parse(MONDAY), now_ts=1000.0).hour == 8
    assert transfer_now({"created_ts": "1000.0"}, Clock.parse(MONDAY)) == MONDAY_UTC
    # being created (no created_ts yet): its own instant
    assert transfer_now({"clock_at": MONDAY}) == MONDAY_UTC

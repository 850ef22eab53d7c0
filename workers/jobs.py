"""RQ jobs: each takes ids, never objects, and is idempotent (a duplicate run changes nothing)."""
from __future__ import annotations

import os
from functools import lru_cache

from dotenv import load_dotenv

from handoff.config import Config
from handoff.runtime import Runtime, build_runtime


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """This worker process's runtime, built on first use (one Twilio client per process)."""
    load_dotenv()
    built = build_runtime(Config.from_env(os.environ))
    if built.routing is not None:
        from handoff.routing import watch

        # Workers resolve dynamic recipients: they must see recipients-file edits too.
        watch(built.routing, interval=1.0)
    return built


def start_transfer(transfer_id: str) -> None:
    """Move the caller (cold dial, conference or other agent) and dial the first attempt."""
    runtime().service.run_start(transfer_id)


def dial_attempt(transfer_id: str, attempt: int) -> None:
    """Dial every target of a warm attempt."""
    runtime().service.run_dial_attempt(transfer_id, attempt)


def after_attempt(transfer_id: str, attempt: int) -> None:
    """After a failed attempt: the next one, or the last resort."""
    runtime().service.run_after_attempt(transfer_id, attempt)


def ring_timeout(transfer_id: str, attempt: int) -> None:
    """Timer: nobody answered the attempt in time."""
    runtime().service.run_ring_timeout(transfer_id, attempt)


def leg_timeout(transfer_id: str, attempt: int, leg_sid: str, stage: str) -> None:
    """Timer: a leg stuck in human detection or without a key press."""
    runtime().service.run_leg_timeout(transfer_id, attempt, leg_sid, stage)


def whisper_leg(transfer_id: str, attempt: int, leg_sid: str) -> None:
    """Send a leg answered by a human to the whisper."""
    runtime().service.run_whisper_leg(transfer_id, attempt, leg_sid)


def drop_leg(transfer_id: str, attempt: int, leg_sid: str) -> None:
    """Hang up one leg (a machine answered)."""
    runtime().service.run_drop_leg(transfer_id, attempt, leg_sid)


def end_legs(transfer_id: str, keep: str = "") -> None:
    """End every open leg except the one that accepted."""
    runtime().service.run_end_legs(transfer_id, keep)


def announce(transfer_id: str, conference_sid: str) -> None:
    """Play the bridge announcement to both sides."""
    runtime().service.run_announce(transfer_id, conference_sid)

"""RQ jobs: each takes ids, never objects, and is idempotent (a duplicate run changes nothing)."""
from __future__ import annotations

import os
import threading
from functools import wraps

from dotenv import load_dotenv

import twiml
from handoff.config import Config
from handoff.runtime import Runtime, build_runtime


_building = threading.RLock()     # event_webhooks() builds runtime() inside its own build


def once(build):
    """`build()` on first use, then its result: once per process, even when lanes ask at the same time."""
    built = []

    @wraps(build)
    def get():
        if not built:
            with _building:
                if not built:
                    built.append(build())
        return built[0]

    return get


@once
def runtime() -> Runtime:
    """This worker process's runtime, built on first use (one Twilio client per process)."""
    load_dotenv()
    built = build_runtime(Config.from_env(os.environ), render=twiml.render)
    if built.routing is not None:
        from handoff.routing import watch

        # Workers resolve dynamic recipients: they must see recipients-file edits too.
        watch(built.routing, interval=1.0)
    return built


def advance(transfer_id: str) -> None:
    """Act on the transfer's deadline if it has passed: start, dial, time out, or return the caller."""
    runtime().lifecycle.advance(transfer_id)


def end_legs(transfer_id: str) -> None:
    """End every open leg except the one the record says accepted."""
    runtime().lifecycle.end_legs(transfer_id)


def announce(transfer_id: str, conference_sid: str) -> None:
    """Play the bridge announcement to both sides."""
    runtime().warm.announce(transfer_id, conference_sid)


@once
def event_webhooks():
    """This process's event webhooks (handoff/event_webhooks.py), built on first use."""
    from handoff.event_webhooks import build_event_webhooks

    return build_event_webhooks(runtime())


def deliver_event(event_id: str, lease: str | None = None) -> None:
    """POST one event to EVENTS_URL; a failure is recorded and retried later, never raised.
    `lease`: the claim this job was queued under (a newer claim makes it a no-op)."""
    event_webhooks().deliver(event_id, lease)


def send_text(transfer_id: str, purpose: str, to: str | None = None, body: str | None = None) -> None:
    """Send the transfer's `purpose` SMS once (handoff/texts.py): to the caller and the transfer's own
    notice unless `to` / `body` are given; recorded as text-sent or text-failed, never raised."""
    from handoff.texts import Texts

    Texts(runtime().ctx).send(transfer_id, purpose, to, body)


def send_card(transfer_id: str, leg: str) -> None:
    """Text the hand-off card to the warm recipient whose leg accepted, if due (handoff/cards.py)."""
    from handoff.cards import Cards

    Cards.from_runtime(runtime()).send(transfer_id, leg)

"""The hand-off card: a warm recipient who accepted gets an SMS linking to the caller's context.

Consent before content: the card is texted only once the transfer is bridged to a leg whose person
pressed the accept key (never to a machine, a decliner, or a cold voicemail box), by a job the
dispatcher queues on the `bridged` event (`bridged_handler`), so no webhook waits on it. The text
goes through the shared `send_text` job (purpose "card", once per transfer, recorded as text-sent).

The link (handoff/card_tokens.py) works until the transfer has ended plus CARD_GRACE_SECONDS (a
successful warm transfer ends with the caller's call), and never past CARD_MAX_AGE_SECONDS after it
was sent. Opening it records `card-opened` on the transfer (the first OPEN_EVENTS_KEPT opens).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from .card_tokens import CardClaim, card_key, sign, verify
from .events import Event
from .record import Transfer
from .state import CALL_ENDED
from .targets import TargetKind
from .transfer.chain import RESULT_WORDS
from .transfer.context import Context
from .transfer.views import Views

log = logging.getLogger("handoff.cards")

PATH = "/cards/"
BODY = "Handoff card for your call from {caller}: {url}"
OPEN_EVENTS_KEPT = 20          # opens beyond this are not recorded: a reloading phone must not flood the timeline


def _ts(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def ended_at(t: Transfer, call: Mapping[str, str] | None) -> float | None:
    """When the card's transfer ended (None: not yet). A success ends with the caller's call (the
    recipient is still helping them); any other outcome when the transfer finished."""
    if not t.status.is_finished:
        return None
    finished = _ts(t.fields.get("finished_at")) or 0.0
    if t.outcome is None or not t.outcome.is_success:
        return finished
    if call is None:
        return finished         # the call's record has expired: long over
    if call.get("status") in CALL_ENDED:
        return _ts(call.get("ended_at")) or finished
    return None


def expired(claim: CardClaim, t: Transfer, call: Mapping[str, str] | None, *, now: float, grace: int) -> bool:
    """Past the token's hard cap, or past the transfer's end plus the grace."""
    if now >= claim.expires:
        return True
    end = ended_at(t, call)
    return end is not None and now > end + grace


def accepted_by(events: Sequence[Event], leg: str, accept_key: str) -> bool:
    """The leg's person pressed the accept key (consent and acceptance both proven)."""
    return any(e.type == "key-pressed" and e.leg == leg and str(e.detail.get("digits") or "") == accept_key
               for e in events)


def destination(t: Transfer, leg: str, events: Sequence[Event]) -> str | None:
    """The mobile to text: the attempt's card_to, else the number the leg dialed (None: a SIP or client
    recipient without card_to)."""
    settings = t.leg_settings
    if settings.card_to:
        return settings.card_to
    dialed = next((e.detail.get("target") for e in events if e.type == "leg-dialed" and e.leg == leg), None)
    for target in t.current.targets:
        if target.describe() == dialed:
            return target.address if target.kind is TargetKind.NUMBER else None
    return None


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _turns(transcript: Any) -> list[dict]:
    """The transcript as (role, text) turns, whatever shape the agent sent."""
    turns = []
    for turn in transcript if isinstance(transcript, list) else []:
        if isinstance(turn, dict):
            turns.append({"role": str(turn.get("role") or "caller"), "text": _text(turn.get("text"))})
        elif turn:
            turns.append({"role": "", "text": _text(turn)})
    return turns


_HISTORY_LINES = (("reason", "Reason"), ("summary", "Summary"), ("outcome_detail", "How it ended"))


def _history(history: Any) -> list[dict]:
    """Earlier transfers on the call (Views.context's `history`), each as a title and the lines a person
    reads: its reason, summary, how it ended and who it tried; ids, places and times stay off the page."""
    rows = []
    for n, item in enumerate(history if isinstance(history, list) else [], start=1):
        if not isinstance(item, dict):
            rows.append({"title": f"Transfer {n}", "lines": [_text(item)]})
            continue
        title = " · ".join(_text(item.get(k)) for k in ("mode", "to") if item.get(k)) or f"Transfer {n}"
        lines = [f"{label}: {_text(item[k])}" for k, label in _HISTORY_LINES if item.get(k)]
        lines += [_tried(a) for a in item.get("attempts") or () if isinstance(a, dict) and (a.get("to") or a.get("said"))]
        rows.append({"title": title, "lines": lines})
    return rows


def _tried(attempt: Mapping[str, Any]) -> str:
    """One attempt as a line: who, and how it ended ('billing_person: declined')."""
    result = RESULT_WORDS.get(str(attempt.get("result") or ""))
    if attempt.get("to") and result:
        return f"{_text(attempt['to'])}: {result}"
    return _text(attempt.get("said") or attempt.get("to"))


def content(t: Transfer, context: Mapping[str, Any], call: Mapping[str, str] | None) -> dict:
    """What the card shows, as plain values (the template escapes every one)."""
    ctx = dict(context or {})
    variables = ctx.get("variables") if isinstance(ctx.get("variables"), dict) else t.variables
    return {"caller": (call or {}).get("from") or "an unknown number", "reason": _text(ctx.get("reason")) or None,
            "summary": _text(ctx.get("summary")) or None,
            "variables": [(str(k), _text(v)) for k, v in sorted((variables or {}).items())],
            "transcript": _turns(ctx.get("transcript")), "history": _history(ctx.get("history")),
            "connected": t.outcome is not None and t.outcome.is_success}


@dataclass(frozen=True)
class CardPage:
    """The answer to a card link: 200 with its content, 404 (no such card) or 410 (expired)."""

    status: int
    content: dict = field(default_factory=dict)


def bridged_handler(jobs):
    """The dispatcher's handler (handoff/dispatch.py): a warm transfer bridged (its `bridged` event names
    the accepted leg, and `card` says some attempt may send one) queues `send_card` in the round's MULTI;
    the job decides whether a card is due."""

    def handle(events, round_) -> None:
        for event in events:
            # Warm bridges say how they were seen ('via', or reconciled); a cold one never has a card.
            if event.type == "bridged" and event.leg and event.detail.get("card") \
                    and ("via" in event.detail or event.detail.get("reconciled")):
                jobs.enqueue("send_card", event.transfer_id, event.leg, batch=round_.batch)

    handle.__qualname__ = "hand_off_cards"
    return handle


class Cards:
    """Sends a transfer's card (in a worker) and answers its link (in a web process)."""

    def __init__(self, ctx: Context, *, key: bytes, grace: int, max_age: int):
        self.ctx = ctx
        self.store = ctx.store
        self.key = key
        self.grace = grace
        self.max_age = max_age

    @classmethod
    def from_runtime(cls, runtime) -> "Cards":
        config = runtime.config
        return cls(runtime.ctx, key=card_key(config.secret_key, config.twilio_auth_token),
                   grace=config.card_grace, max_age=config.card_max_age)

    def link(self, transfer_id: str, leg: str, *, now: float | None = None) -> str:
        """The card's URL, valid for max_age from now at most."""
        token = sign(self.key, transfer_id, leg, int((now or time.time()) + self.max_age))
        return f"{self.ctx.urls.base}{PATH}{token}"

    # ------------------------------------------------------------------ the job
    def send(self, transfer_id: str, leg: str) -> bool:
        """Job: queue the card's SMS if the transfer's accepted leg is due one; True when queued."""
        t, events = self.store.get_transfer_with_events(transfer_id)
        if t is None or not t.mode.is_warm or t.direct or t.bridged_leg != leg:
            return False
        settings = t.leg_settings
        if not settings.card or (t.outcome is not None and not t.outcome.is_success):
            return False
        if not accepted_by(events, leg, settings.accept_key):
            return False      # a leg bridged without its person accepting never gets the caller's details
        to = destination(t, leg, events)
        if to is None:
            log.warning("card of %s not sent: a SIP or client recipient needs card_to", t.id)
            self.store.append_event(t.id, t.call_sid, {
                "event": "text-failed", "purpose": "card", "leg": leg, "to": None,
                "error": "no mobile number to text: set card_to for a SIP or client recipient"})
            return False
        call = self.store.get_call(t.call_sid) or {}
        body = BODY.format(caller=call.get("from") or "an unknown number", url=self.link(t.id, leg))
        self.ctx.jobs.enqueue("send_text", t.id, "card", to, body)
        return True

    # ------------------------------------------------------------------ the page
    def open(self, token: str, *, now: float | None = None, record: bool = True) -> CardPage:
        """The card a link shows now, recording the open (if `record`); 404 for anything not genuine, 410
        once expired."""
        now = time.time() if now is None else now
        claim = verify(self.key, token)
        if claim is None:
            return CardPage(404)
        if now >= claim.expires:
            return CardPage(410)
        t, events = self.store.get_transfer_with_events(claim.transfer_id)
        if t is None:
            return CardPage(410)     # a genuine link whose transfer has expired from Redis
        if t.bridged_leg != claim.leg:
            return CardPage(404)
        call = self.store.get_call(t.call_sid)
        if expired(claim, t, call, now=now, grace=self.grace):
            return CardPage(410)
        context = Views(self.store).context(t.id) or {}
        if record:
            self._record_open(t, claim.leg, events)
        return CardPage(200, content(t, context, call))

    def _record_open(self, t: Transfer, leg: str, events: Sequence[Event]) -> None:
        """A `card-opened` event (one round trip), numbered; bookkeeping, finished transfer or not."""
        opens = sum(1 for e in events if e.type == "card-opened") + 1
        if opens <= OPEN_EVENTS_KEPT:
            self.store.append_event(t.id, t.call_sid, {"event": "card-opened", "leg": leg, "opens": opens})

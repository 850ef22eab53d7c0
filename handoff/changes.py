"""The vocabulary of a state change: what a transition asks of lua/transition.lua (Change, its Deadline
and LegChange) and what it answers (Result, CreateResult). handoff/store.py sends them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Sequence

from .keys import decode
from .record import Transfer
from .state import AttemptResult, CallerAt, DeadlineKind, LegState, Outcome, Stamp, TransferStatus, check_move


def _pairs(flat: list) -> dict[str, str]:
    flat = [decode(v) for v in flat]
    return dict(zip(flat[0::2], flat[1::2]))


@dataclass(frozen=True)
class Deadline:
    """The deadline a change arms: `kind`, `after` seconds from now; `extend` only ever moves it later."""

    kind: DeadlineKind
    after: float = 0.0
    extend: bool = False

    def to_json(self) -> dict:
        return {"kind": self.kind.value, "after": self.after, "extend": self.extend}


CLEAR = "clear"


@dataclass(frozen=True)
class LegChange:
    """A recipient leg's progress, recorded with the change (and failing the attempt when it is the last)."""

    sid: str
    state: LegState
    require: tuple[LegState, ...] | None = None
    outcome: Outcome | None = None            # the attempt's outcome if this leg was the last, while ringing
    outcome_answered: Outcome | None = None   # ... after it had answered
    attempt: int | None = None
    result: AttemptResult | None = None       # how the attempt ended, for analytics, if this leg was the last
    result_answered: AttemptResult | None = None

    def to_json(self) -> dict:
        return {"sid": self.sid, "state": self.state.value, "attempt": self.attempt,
                "require": [s.value for s in self.require] if self.require is not None else None,
                "outcome": self.outcome.value if self.outcome else None,
                "outcome_answered": self.outcome_answered.value if self.outcome_answered else None,
                "result": self.result.value if self.result else None,
                "result_answered": self.result_answered.value if self.result_answered else None}


@dataclass(frozen=True)
class Change:
    """One event applied to a transfer (see lua/transition.lua): checks, move, fields, deadline."""

    event: Mapping | Sequence[Mapping] | None = None   # one event, or several (in order)
    event_id: str | None = None
    attempt: int | None = None                   # refused as stale unless the transfer is on this attempt
    sources: Iterable[TransferStatus] | None = None   # None: any unfinished status
    to: TransferStatus | str | None = None      # a status, 'fail-attempt' or None (keep)
    outcome: Outcome | None = None
    detail: str = ""
    fields: Mapping[str, Any] | None = None
    caller: CallerAt | None = None
    deadline: Deadline | str | None = None       # armed when applied (CLEAR to clear)
    on_next: Deadline | None = None              # what the next attempt waits for when this fails one
    inline_return: bool | str = False            # the webhook answering this gives the caller its next document
                                                 # ('message': the deployment's default last resort says one)
    leg: LegChange | None = None
    forward_only: bool = False
    require_outcome: bool = False
    require_field: tuple[str, str] | None = None
    ignore_caller: bool = False                  # apply even if the caller has hung up
    after_finish: bool = False                   # bookkeeping on a finished transfer (never its outcome)
    result: AttemptResult | None = None          # how the attempt ended when this fails or wins it (analytics)
    stamps: tuple[Stamp, ...] = ()               # moments recorded once (handoff.state.Stamp)

    def to_json(self, now: str, now_ts: float) -> str:
        sources = list(self.sources) if self.sources is not None else None
        target = self.to
        if self.after_finish and (target or self.outcome):
            raise ValueError("a change after the finish may not move the status or set the outcome")
        if isinstance(target, TransferStatus):
            if not self.forward_only:    # a forward-only move simply does not happen from later statuses
                check_move(sources or [], target)
            target = target.value
        deadline = self.deadline.to_json() if isinstance(self.deadline, Deadline) else self.deadline
        return json.dumps({
            "now": now, "now_ts": now_ts, "event_id": self.event_id, "attempt": self.attempt,
            "from": [s.value for s in sources] if sources is not None else None, "to": target,
            "outcome": self.outcome.value if self.outcome else None, "detail": self.detail,
            "fields": {k: str(v) for k, v in (self.fields or {}).items()} or None,
            "caller": self.caller.value if self.caller else None, "deadline": deadline,
            "on_next": self.on_next.to_json() if self.on_next else None, "inline_return": self.inline_return,
            "leg": self.leg.to_json() if self.leg else None, "forward_only": self.forward_only,
            "require_outcome": self.require_outcome,
            "require_field": list(self.require_field) if self.require_field else None,
            "ignore_caller": self.ignore_caller, "after_finish": self.after_finish, "events": self.events(now),
            "result": self.result.value if self.result else None, "stamps": [s.value for s in self.stamps] or None,
        }, separators=(",", ":"))

    def events(self, now: str) -> list[dict] | None:
        """The change's events, each stamped with the time."""
        if not self.event:
            return None
        events = [self.event] if isinstance(self.event, Mapping) else list(self.event)
        return [{"at": now, **e} for e in events]


@dataclass(frozen=True)
class Result:
    """What a transition answered: whether it applied, what follows, and the transfer after it."""

    verdict: str        # applied | duplicate | stale | refused | missing | caller-gone
    next: str           # '' | 'next' (a fallback attempt is due) | 'finished' | 'bridge-leg-ended' | a leg state
    flat: tuple = ()                   # the transfer's fields as the script answered them
    fetch: Callable[[], Transfer | None] | None = None    # or how to read it (an archived transfer)

    @cached_property
    def transfer(self) -> Transfer | None:
        """The transfer after the transition, decoded (or read) on first use: most callbacks never look."""
        if self.fetch is not None:
            return self.fetch()
        return Transfer.parse(_pairs(list(self.flat))) if self.flat else None

    @property
    def applied(self) -> bool:
        return self.verdict == "applied"

    @property
    def finished(self) -> bool:
        return self.next == "finished"

    @classmethod
    def parse(cls, raw: list) -> "Result":
        return cls(verdict=decode(raw[0]), next=decode(raw[1]), flat=tuple(raw[2:]))


@dataclass(frozen=True)
class CreateResult:
    """What the create script answered: created, idempotent, idempotency-mismatch, conflict, no-call, call-ended,
    chain-limit."""

    verdict: str
    detail: str          # the transfer id, or the call's status for call-ended (chain-limit: the chain's last)
    chain: str = ""      # chain-limit: how many transfers the call has been through

"""What the three modes share: the registry the lifecycle asks, dynamic destinations, and timings."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Protocol

from ..clock import transfer_now
from ..gateway import GatewayError
from ..record import Transfer, target_to_json
from ..state import AttemptResult, CallerAt, Outcome, Stamp, TransferMode, TransferStatus
from ..changes import Change
from . import decisions as d
from .context import Context

if TYPE_CHECKING:
    from .lifecycle import Lifecycle

log = logging.getLogger("handoff.modes")
SECONDS_PER_CHAR = 0.08        # how long speech takes, for the deadlines that include a <Say>


def speech_seconds(text: str | None) -> float:
    """How long Twilio takes to say a text, roughly (deadlines only; never exact)."""
    return len(text or "") * SECONDS_PER_CHAR


class Mode(Protocol):
    holds_caller: bool
    def start(self, t: Transfer) -> None: ...
    def dial(self, t: Transfer) -> None: ...
    def reconcile(self, t: Transfer) -> bool: ...
    def caller_document(self, t: Transfer) -> d.Decision: ...
    def first_document(self, t: Transfer) -> tuple[Change, d.Decision]: ...


class ModeBase:
    """Helpers every mode uses; the chain itself is the lifecycle's."""

    # The caller holds while a retry or fallback dials (warm): no redirect would fail if they were gone.
    holds_caller = False

    def __init__(self, ctx: Context, lifecycle: "Lifecycle"):
        self.ctx = ctx
        self.store = ctx.store
        self.lifecycle = lifecycle

    def reconcile(self, t: Transfer) -> bool:
        """Did the attempt succeed after all, though no callback said so? (Default: no.)"""
        return False

    def first_document(self, t: Transfer) -> tuple[Change, d.Decision]:
        """A hand-off from HandoffData: the caller has already left the agent, so the first document is
        answered inline; the change records where the caller is and arms what it waits for."""
        if t.current.dynamic:
            # The destination needs a remote lookup, which only a worker may do: hold until then.
            return (Change(event={"event": "caller-waiting"}, sources=[TransferStatus.REQUESTED],
                           caller=CallerAt.WAITING, stamps=(Stamp.HOLD,)),
                    self.waiting_document(t, announcement=t.message or "Please hold while I connect you."))
        return self.inline_first(t)

    def waiting_document(self, t: Transfer, *, announcement: str | None = None) -> d.HoldAudio:
        """Hold audio, fetched again while a worker prepares the caller's next step."""
        hold = self.hold_document(t)
        return d.HoldAudio(music_url=hold.music_url, message=hold.message, announcement=announcement,
                           again_url=self.ctx.urls.transfer(t.id, "hold", t.call_sid))

    def inline_first(self, t: Transfer) -> tuple[Change, d.Decision]:
        raise NotImplementedError

    def hold_document(self, t: Transfer | None) -> d.HoldAudio:
        """What a waiting caller hears: configured music or message, else the default music."""
        s = t.settings if t else None
        music = (s.hold_music_url if s else None) or (None if s and s.hold_message else self.ctx.hold_music_url)
        return d.HoldAudio(music_url=music, message=s.hold_message if s else None)

    def move_caller(self, t: Transfer, decision: d.Decision) -> bool:
        """Redirect the caller; a failure ends the transfer (cancelled when the caller is gone)."""
        try:
            self.ctx.gateway.redirect_call(t.call_sid, twiml=self.ctx.render(decision))
            return True
        except GatewayError as exc:
            gone = exc.call_is_gone
            self.store.apply(t.id, t.call_sid, Change(
                event={"event": "caller-not-moved", "error": str(exc), "code": exc.code}, to="completed",
                outcome=Outcome.CANCELLED if gone else Outcome.CONNECTION_ERROR,
                detail="the caller's call has ended" if gone else f"could not move the caller: {exc}"))
            return False

    def resolve(self, t: Transfer) -> Transfer | None:
        """The current attempt with its dynamic recipient resolved (a remote webhook); None if it failed."""
        attempt = t.current
        if not attempt.dynamic:
            return t
        router = self.ctx.router()
        try:
            if router is None:
                raise ValueError("no routing configuration loaded")
            call = self.store.get_call(t.call_sid) or {}
            target = router.resolve_dynamic(attempt.dynamic, context={
                "call_sid": t.call_sid, "caller": call.get("from"), "reason": t.reason or None,
                "variables": {**self.store.get_call_variables(t.call_sid), **t.variables}, "transfer_id": t.id},
                now=transfer_now(t.fields, self.ctx.clock))
        except Exception as exc:   # RoutingError and anything the webhook did: the fallback handles it
            self.lifecycle.attempt_failed(t, Outcome.CONNECTION_ERROR, f"dynamic destination {attempt.dynamic}: {exc}",
                                          {"event": "dynamic-destination-failed", "recipient": attempt.dynamic,
                                           "error": str(exc)}, result=AttemptResult.FAILED)
            return None
        plan = [a.to_json() for a in t.attempts]
        plan[t.attempt] = {**plan[t.attempt], "dynamic": None, "targets": [target_to_json(target)]}
        result = self.store.apply(t.id, t.call_sid, Change(
            event={"event": "dynamic-destination", "recipient": attempt.dynamic, "target": target.describe()},
            attempt=t.attempt, fields={"plan": json.dumps(plan)}))
        return result.transfer if result and result.applied else None


class Modes:
    """The lifecycle's way to the mode of a transfer."""

    def __init__(self, cold: Mode, warm: Mode, agent: Mode):
        self._by_mode = {TransferMode.COLD: cold, TransferMode.WARM: warm, TransferMode.AGENT: agent}

    def of(self, t: Transfer) -> Mode:
        return self._by_mode[t.mode]

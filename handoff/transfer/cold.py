"""Cold (blind) transfers: the caller's call is redirected to a <Dial> (or a SIP <Refer>).

Its first step moves the caller; its callbacks are the Dial's action and leg statuses, and the
Refer's action. A failed dial answers the next document inline (the next attempt, or the last
resort), from the lifecycle's decision; the chain itself is never walked here.
"""
from __future__ import annotations

from ..destinations import sip_uri_with_headers
from ..gateway import GatewayError
from ..record import Transfer
from ..state import (ANSWERED, DIAL_RESULTS, DIAL_STATUS_OUTCOMES, AttemptResult, CallerAt, DeadlineKind, LegState, Outcome, Stamp,
                     TransferStatus)
from ..changes import Change, Deadline, LegChange, Result
from ..targets import Target, TargetKind
from . import decisions as d
from .modes import ModeBase, speech_seconds

RING_GRACE = 5          # seconds past Twilio's own ring timeout before our deadline moves the caller
DIAL_STATES = [TransferStatus.DIALING, TransferStatus.RINGING, TransferStatus.ANSWERED]


def endpoint(target: Target) -> d.Endpoint:
    """What a <Dial> or <Refer> reaches for a target (SIP headers appended to the URI)."""
    address = sip_uri_with_headers(target) if target.kind is TargetKind.SIP else target.address
    return d.Endpoint(kind=target.kind.value, address=address, send_digits=target.send_digits,
                      username=target.sip_username, password=target.sip_password)


class ColdMode(ModeBase):
    """First step and callbacks of a cold transfer."""

    def window(self, t: Transfer, *, first: bool) -> float:
        """How long an attempt may take before the caller is moved on without Twilio's word."""
        return t.leg_settings.timeout + RING_GRACE + (speech_seconds(t.settings.message) if first else 0)

    def caller_document(self, t: Transfer, *, inline: bool = False) -> d.Decision:
        """The caller's <Dial> (or <Refer>) for the current attempt."""
        urls, attempt, s = self.ctx.urls, t.current, t.leg_settings
        target = attempt.targets[0]
        message = t.settings.message if t.attempt == 0 else None
        # What the attempt that follows waits for rides in the action URL (its ring timeout, or `nd`:
        # a dynamic recipient whose dial job is due at once): a failed Dial arms that attempt's
        # deadline in the same round trip, without reading the transfer first.
        has_next = t.attempt + 1 < len(t.attempts)
        following = t.attempts[t.attempt + 1] if has_next else attempt
        rt = t.settings_for(following).timeout
        nd = 1 if has_next and following.dynamic and not following.targets else None
        if t.refer:
            return d.ReferOut(endpoint(target), urls.transfer(t.id, "refer-action", t.call_sid, attempt=t.attempt,
                                                              rt=rt, nd=nd), message=message)
        return d.DialOut(endpoint(target), action_url=urls.transfer(t.id, "dial-action", t.call_sid, attempt=t.attempt,
                                                                    rt=rt, nd=nd),
                         status_callback_url=urls.transfer(t.id, "dial-status", t.call_sid, attempt=t.attempt),
                         timeout=s.timeout, caller_id=t.leg_caller_id or None, message=message,
                         pause_seconds=int(attempt.delay) if inline else 0)

    # ------------------------------------------------------------------ steps (jobs)
    def start(self, t: Transfer) -> None:
        """Job: arm the attempt's deadline, then move the caller into the Dial."""
        self._dial(t, sources=[TransferStatus.REQUESTED])

    def dial(self, t: Transfer) -> None:
        """Job: a fallback is due after a timeout: move the caller into its Dial."""
        self._dial(t, sources=[TransferStatus.DIALING])

    def _dialing(self, t: Transfer, sources) -> Change:
        """The caller is (about to be) in the attempt's Dial: its deadline is the attempt's window."""
        return Change(
            event={"event": "dialing", "attempt": t.attempt, "target": t.current.describe(), "refer": t.refer},
            event_id=f"dialing:{t.attempt}", attempt=t.attempt, sources=sources, to=TransferStatus.DIALING,
            caller=CallerAt.DIAL, stamps=(Stamp.DIALED, Stamp.HOLD), deadline=Deadline(DeadlineKind.ATTEMPT, self.window(t, first=t.attempt == 0)))

    def inline_first(self, t: Transfer) -> tuple[Change, d.Decision]:
        return self._dialing(t, [TransferStatus.REQUESTED]), self.caller_document(t)

    def _dial(self, t: Transfer, *, sources) -> None:
        t = self.resolve(t)
        if t is None:
            return
        # Armed before the redirect, so the deadline can never be missing while the caller dials.
        result = self.store.apply(t.id, t.call_sid, self._dialing(t, sources))
        if result.applied:
            self.move_caller(result.transfer, self.caller_document(result.transfer))

    def reconcile(self, t: Transfer) -> bool:
        """No word from Twilio in time: ask it whether the Dial connected before moving the caller."""
        if t.refer:
            return False
        try:
            children = self.ctx.gateway.child_statuses(t.call_sid)
        except GatewayError:
            return False
        live = [sid for sid, status in children.items() if status == "in-progress"]
        if not live:
            return False
        self.store.apply(t.id, t.call_sid, self.lifecycle.succeeded(
            event={"event": "bridged", "attempt": t.attempt, "leg": live[0], "reconciled": True},
            attempt=t.attempt, sources=DIAL_STATES, detail="answered", fields={"bridged_leg": live[0]}))
        return True

    # ------------------------------------------------------------------ callbacks (webhooks)
    def dial_action(self, transfer_id: str, call_sid: str, attempt: int, *, dial_status: str,
                    dial_call_sid: str | None, duration: str | None, ring_timeout: int,
                    next_dynamic: bool, sip_code: str | None = None) -> d.Decision:
        """The Dial ended: bridged-and-over, or failed (the next attempt, or the last resort)."""
        outcome = DIAL_STATUS_OUTCOMES.get(dial_status, Outcome.CONNECTION_ERROR)
        event = {"event": "dial-ended", "attempt": attempt, "dial_status": dial_status, "leg": dial_call_sid,
                 "duration": duration, "sip_code": sip_code}
        if outcome.is_success:
            change = Change(event=event, event_id=f"dial-action:{attempt}", attempt=attempt,
                            sources=DIAL_STATES + [TransferStatus.BRIDGED], to="completed", outcome=Outcome.SUCCESS,
                            detail="bridge ended", inline_return=self.lifecycle.inline_return)
        else:
            change = self._failed(attempt, outcome, f"dial {dial_status}", event, f"dial-action:{attempt}",
                                  ring_timeout, next_dynamic, DIAL_RESULTS.get(dial_status, AttemptResult.FAILED))
        return self._next(self.store.apply(transfer_id, call_sid, change))

    def refer_action(self, transfer_id: str, call_sid: str, attempt: int, *, refer_status: str | None,
                     sip_code: str | None, ring_timeout: int, next_dynamic: bool) -> d.Decision:
        """Refer's action: 2xx means the caller's SIP side took the call; anything else fails."""
        ok = (refer_status or "").lower() in ("in-progress", "completed", "answered") or (sip_code or "").startswith("2")
        event = {"event": "refer-result", "refer_status": refer_status, "sip_code": sip_code}
        if ok:
            self.store.apply(transfer_id, call_sid, Change(
                event=event, event_id=f"refer:{attempt}", attempt=attempt, sources=DIAL_STATES, to="completed",
                outcome=Outcome.SUCCESS, detail=f"REFER accepted ({sip_code})", inline_return=self.lifecycle.inline_return,
                caller=CallerAt.BRIDGED, stamps=ANSWERED))
            return d.Hangup()    # the caller's SIP side has the call: our leg is done
        outcome = Outcome.TIMEOUT if sip_code in ("408", "480") else Outcome.CONNECTION_ERROR
        result = AttemptResult.NO_ANSWER if sip_code in ("408", "480") else \
            AttemptResult.BUSY if sip_code in ("486", "600") else AttemptResult.FAILED
        change = self._failed(attempt, outcome, f"REFER failed ({sip_code or refer_status})", event,
                              f"refer:{attempt}", ring_timeout, next_dynamic, result)
        return self._next(self.store.apply(transfer_id, call_sid, change))

    def _failed(self, attempt: int, outcome: Outcome, detail: str, event: dict, event_id: str,
                ring_timeout: int, next_dynamic: bool, result: AttemptResult) -> Change:
        # The next cold attempt starts in the very document we answer: it waits for its Dial
        # (`ring_timeout` is that attempt's, from the failed one's action URL). A dynamic one has no
        # destination until a worker asks its webhook: its dial job is due (the caller holds meanwhile).
        on_next = Deadline(DeadlineKind.DIAL, 0) if next_dynamic else \
            Deadline(DeadlineKind.ATTEMPT, ring_timeout + RING_GRACE)
        return Change(event=event, event_id=event_id, attempt=attempt, sources=DIAL_STATES, to="fail-attempt",
                      outcome=outcome, detail=detail, inline_return=self.lifecycle.inline_return, result=result,
                      on_next=on_next)

    def _next(self, result: Result) -> d.Decision:
        """What the caller hears after a Dial or Refer ended, whatever the event's verdict."""
        t = result.transfer
        if t is None or result.verdict == "caller-gone":
            return d.Hangup()
        if t.status is TransferStatus.DIALING and t.caller is CallerAt.DIAL:
            if t.current.dynamic:
                # Only a worker may ask its webhook (its dial job is due now): hold until it moves the caller.
                return self.waiting_document(t)
            return self.caller_document(t, inline=True)
        if t.status.is_finished:
            return self.lifecycle.caller_next(t)
        return d.Hangup()

    def dial_status(self, transfer_id: str, call_sid: str, attempt: int, *, leg_sid: str,
                    call_status: str) -> None:
        """The dialed leg progressed (Number/Sip/Client statusCallback)."""
        event = {"event": f"leg-{call_status}", "attempt": attempt, "leg": leg_sid}
        event_id = f"dial-status:{leg_sid}:{call_status}"
        if call_status == "ringing":
            change = Change(event=event, event_id=event_id, attempt=attempt, sources=DIAL_STATES,
                            to=TransferStatus.RINGING, forward_only=True,
                            leg=LegChange(leg_sid, LegState.RINGING, attempt=attempt))
        elif call_status in ("in-progress", "answered"):
            change = self.lifecycle.succeeded(
                event={"event": "bridged", "attempt": attempt, "leg": leg_sid}, event_id=event_id, attempt=attempt,
                sources=DIAL_STATES, detail="answered", fields={"bridged_leg": leg_sid},
                leg=LegChange(leg_sid, LegState.ACCEPTED, attempt=attempt))
        elif call_status == "initiated":
            change = Change(event=event, event_id=event_id, attempt=attempt,
                            leg=LegChange(leg_sid, LegState.DIALED, attempt=attempt))
        else:   # ended: a fact; the Dial's action (or the deadline) decides the attempt
            change = Change(event=event, event_id=event_id, attempt=attempt,
                            leg=LegChange(leg_sid, LegState.ENDED, attempt=attempt))
        self.store.apply(transfer_id, call_sid, change)

"""THE owner of a transfer's life: attempts, outcomes, deadlines, the fallback chain, cancel,
and what the caller hears next. Modes (cold, warm, agent) report to it; none walks the chain.

Every waiting state has a deadline, armed by the same Lua script that enters it (store.Change).
When one passes, recovery's sweeper (or a webhook, for speed) queues `advance`, which acts on it
here: dial the attempt that is due, fail the attempt that ran out of time, return the caller.
"""
from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Mapping

from ..gateway import GatewayError
from ..record import Transfer
from ..state import (ANSWERED, CALL_ENDED, WAITING, AttemptResult, CallerAt, DeadlineKind, LegState, Outcome,
                     TransferStatus)
from ..changes import CLEAR, Change, Deadline, LegChange, Result
from ..store import Batch
from ..targets import LastResort
from . import decisions as d
from .context import Context

if TYPE_CHECKING:
    from .modes import Modes

log = logging.getLogger("handoff.lifecycle")

LEASE = 10.0          # seconds a due deadline is owned (by a sweep or a job) before it fires again
# Actions (start, dial, return) are due at once and their lease is the time they have before they
# are tried again; timeouts (attempt, join) are due when the wait is over.
LEASES = {DeadlineKind.START: 10.0, DeadlineKind.DIAL: 15.0, DeadlineKind.RETURN: 10.0,
          DeadlineKind.ATTEMPT: 15.0, DeadlineKind.JOIN: 15.0}
JOIN_WINDOW = 15.0    # an accepting recipient must be in the conference by then
MAX_TRIES = 3         # a step retried by its deadline this often fails the attempt instead


def nobody_to_dial(fields: Mapping) -> bool:
    """Routing planned no attempt (closed hours, only the last resort): the transfer ends as it starts."""
    return not int(fields.get("attempts_total") or 0)


def nobody_detail(reasons) -> str:
    """Why a transfer has nobody to dial: routing found no one open (closed hours, or only the last resort)."""
    return f"nobody can take this call now ({'; '.join(reasons) or 'no recipient matches'})"


def offers_callback(t: Transfer) -> bool:
    """A failed transfer whose last resort is a callback offers one (not when cancelled: nobody to offer it to).
    lua/common.lua `finish` decides it too, for the caller's return answered inline."""
    return (t.settings.last_resort is LastResort.CALLBACK and t.status.is_finished and t.outcome is not None
            and t.outcome not in (Outcome.SUCCESS, Outcome.CANCELLED))


class Lifecycle:
    """Start, attempt failed/succeeded, after an attempt, cancel, and the caller's next document."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.store = ctx.store
        self.modes: Modes | None = None       # set by handoff.runtime (the modes report back here)

    # ------------------------------------------------------------------ start
    def start(self, fields: dict, *, event: dict, idempotency_key: str | None, fingerprint: str,
              batch: Batch, inline_return: bool | str = False) -> None:
        """Store the transfer with its start deadline and queue its start job, in the caller's batch."""
        self.store.create_transfer(fields, event=event, idempotency_key=idempotency_key, fingerprint=fingerprint,
                                   deadline=Deadline(DeadlineKind.START), batch=batch)
        if nobody_to_dial(fields):
            # Nobody to dial (closed hours; requests allow it only with a callback to offer): it ends as it
            # starts (the batch's second reply), and the caller gets its next document from the return
            # deadline's job, or from the webhook answering now (`inline_return`). Nothing is sent "before".
            reasons = json.loads(fields.get("reasons") or "[]")
            self.store.apply(fields["id"], fields["call_sid"], Change(
                event={"event": "nobody-available", "reasons": reasons}, sources=[TransferStatus.REQUESTED],
                to="completed", outcome=Outcome.TIMEOUT, detail=nobody_detail(reasons), inline_return=inline_return),
                batch=batch)
            self.ctx.jobs.enqueue("advance", fields["id"], batch=batch)
            return
        self.ctx.jobs.enqueue("advance", fields["id"], batch=batch)
        if "b" in str(fields.get("texts") or ""):
            # The caller's "before" text (handoff/texts.py); a refused create leaves it nothing to send.
            self.ctx.jobs.enqueue("send_text", fields["id"], "before", None, None, batch=batch)

    @property
    def inline_return(self) -> bool | str:
        """Change.inline_return for a webhook that answers the caller's next document itself."""
        return "message" if self.ctx.fail_message else True

    # ------------------------------------------------------------------ transitions the modes ask for
    def attempt_failed(self, t: Transfer, outcome: Outcome, detail: str, event: dict, *, result: AttemptResult,
                       batch: Batch | None = None, event_id: str | None = None) -> Result | None:
        """The current attempt failed: the next one becomes due, or the transfer ends (last resort)."""
        change = Change(event=event, event_id=event_id, attempt=t.attempt, to="fail-attempt", outcome=outcome,
                        detail=detail, on_next=Deadline(DeadlineKind.DIAL), result=result)
        return self.store.apply(t.id, t.call_sid, change, batch=batch)

    @staticmethod
    def succeeded(*, event: dict, sources, detail: str, attempt: int | None = None, event_id: str | None = None,
                  fields: dict | None = None, leg: LegChange | None = None) -> Change:
        """The change that records the caller with the recipient: success, and nothing left to wait for."""
        return Change(event=event, event_id=event_id, attempt=attempt, sources=sources, to=TransferStatus.BRIDGED,
                      outcome=Outcome.SUCCESS, detail=detail, caller=CallerAt.BRIDGED, deadline=CLEAR,
                      fields=fields, leg=leg, stamps=ANSWERED)

    def cancel(self, transfer_id: str, detail: str = "cancelled through the API") -> Transfer:
        """Cancel a transfer that has not bridged; its legs end and the caller goes back to the agent."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            raise KeyError(transfer_id)
        batch = self.store.batch()
        self.store.apply(t.id, t.call_sid, Change(event={"event": "cancel-requested"}, sources=WAITING,
                                                  to="completed", outcome=Outcome.CANCELLED, detail=detail),
                         batch=batch)
        self.ctx.jobs.enqueue("advance", t.id, batch=batch)
        result = self.store.execute(batch)[0]
        if result.verdict != "applied":
            from .requests import TransferConflict

            raise TransferConflict(f"transfer is {result.transfer.status.value}; only a transfer in progress "
                                   "can be cancelled", transfer_id=transfer_id)
        return result.transfer

    def voicemail_recorded(self, transfer_id: str, call_sid: str, recording_url: str) -> None:
        """The caller left a message (the voicemail last resort): recorded as an event."""
        self.store.append_event(transfer_id, call_sid, {"event": "voicemail-recorded", "recording_url": recording_url})

    def call_ended(self, call_sid: str, status: str) -> None:
        """The caller's call ended: its transfer in flight is made due, so `advance` cancels it."""
        if status in CALL_ENDED:
            self.store.call_ended(call_sid, call_status=status)

    # ------------------------------------------------------------------ the job that moves things on
    def advance(self, transfer_id: str) -> None:
        """Job: act on the transfer's deadline if it has passed (and again while the next one is due)."""
        asked: set[str] = set()    # calls whose status this run asked Twilio for already (once is enough)
        for _ in range(6):
            t = self.store.get_transfer(transfer_id)
            if t is None or not self._act(t, asked):
                return

    def _act(self, t: Transfer, asked: set[str]) -> bool:
        """One step; True when another may be due at once."""
        if not t.status.is_finished and self._caller_gone(t):
            self.store.apply(t.id, t.call_sid, Change(event={"event": "caller-gone"}, ignore_caller=False,
                                                      sources=None, to="completed", outcome=Outcome.CANCELLED,
                                                      detail="caller hung up"))
            return True
        if t.deadline_kind is None or t.deadline_at is None or t.deadline_at > time.time() + 0.05:
            return False
        kind = t.deadline_kind
        # Own the deadline for a lease: a duplicate job sees it moved and stops; a killed one is re-fired.
        tries = int(t.fields.get(f"tries_{kind.value}_{t.attempt}") or 0) + 1
        claim = self.store.apply(t.id, t.call_sid, Change(
            require_field=("dl_seq", str(t.deadline_seq)), ignore_caller=True,
            deadline=Deadline(kind, LEASES[kind]), fields={f"tries_{kind.value}_{t.attempt}": tries},
            after_finish=kind.is_return))
        if claim.verdict != "applied":
            return False
        if kind.is_return:
            return self._return(claim.transfer, tries)
        t = claim.transfer
        if tries > MAX_TRIES:
            detail = f"{kind.value} did not complete after {MAX_TRIES} tries"
            event = {"event": "gave-up", "stage": kind.value, "attempt": t.attempt}
            if kind is DeadlineKind.START:
                # The caller was never moved: no fallback can go on without them, so the transfer ends.
                self.store.apply(t.id, t.call_sid, Change(event=event, sources=[TransferStatus.REQUESTED],
                                                          to="completed", outcome=Outcome.CONNECTION_ERROR,
                                                          detail=detail))
            else:
                self.attempt_failed(t, Outcome.CONNECTION_ERROR, detail, event, result=AttemptResult.FAILED)
            return True
        mode = self.modes.of(t)
        if kind is DeadlineKind.START:
            mode.start(t)
        elif kind is DeadlineKind.DIAL:
            # A retry or fallback never touches a holding caller's call: nothing else would notice them gone.
            if not (mode.holds_caller and t.attempt > 0 and self._gone_at_twilio_once(t, asked)):
                mode.dial(t)
        elif kind is DeadlineKind.ATTEMPT:
            if not mode.reconcile(t) and not self._gone_at_twilio_once(t, asked):
                ringing = t.status in (TransferStatus.DIALING, TransferStatus.RINGING)
                self.attempt_failed(t, Outcome.TIMEOUT, "no answer in time" if ringing else "no key pressed in time",
                                    {"event": "timeout", "stage": "attempt", "attempt": t.attempt},
                                    result=AttemptResult.NO_ANSWER if ringing else AttemptResult.TIMEOUT)
                self.end_legs(t.id, attempt=t.attempt)
        elif kind is DeadlineKind.JOIN and not mode.reconcile(t) and not self._gone_at_twilio_once(t, asked):
            self.attempt_failed(t, Outcome.CONNECTION_ERROR, "accepted but never joined",
                                {"event": "timeout", "stage": "join", "attempt": t.attempt, "leg": t.bridged_leg},
                                result=AttemptResult.FAILED)
            self.end_legs(t.id, attempt=t.attempt)
        return True

    def _caller_gone(self, t: Transfer) -> bool:
        call = self.store.get_call(t.call_sid) or {}
        return call.get("status") in CALL_ENDED

    def _gone_at_twilio_once(self, t: Transfer, asked: set[str]) -> bool:
        """caller_gone_at_twilio, unless this advance asked already (a gone caller is recorded by then)."""
        if t.call_sid in asked:
            return False
        asked.add(t.call_sid)
        return self.caller_gone_at_twilio(t)

    def caller_gone_at_twilio(self, t: Transfer) -> bool:
        """Job: ask Twilio whether the caller's call is over, before a timeout or a fallback acts for them.

        Its hang-up callback may have been lost, or Twilio no longer knows the call (404: the simulator
        after a restart). An ended or unknown call is recorded as ended, so `advance` cancels the transfer
        instead of timing it out, or ringing the next recipient, for nobody."""
        try:
            status = self.ctx.gateway.call_status(t.call_sid)
        except GatewayError as exc:
            if not exc.call_is_gone:
                return False      # cannot tell: the caller is presumed there
            status = "completed"
        if status not in CALL_ENDED:
            return False
        self.call_ended(t.call_sid, status)
        return True

    def _return(self, t: Transfer, tries: int) -> bool:
        """The transfer is over: end its open legs and give the caller its next document, once."""
        self.end_legs(t.id)
        returned = {"event": "caller-returned", "to": self._return_label(t)}
        done = Change(event=[returned, {"event": "callback-offered"}] if offers_callback(t) else returned,
                      after_finish=True, caller=CallerAt.RETURNED, deadline=CLEAR)
        if not t.caller.needs_return or self._caller_gone(t):
            self.store.apply(t.id, t.call_sid, Change(after_finish=True, deadline=CLEAR))
            return False
        try:
            self.ctx.gateway.redirect_call(t.call_sid, twiml=self.ctx.render(self.caller_next(t)))
        except GatewayError as exc:
            if exc.call_is_gone or tries >= 2 * MAX_TRIES:
                log.warning("could not return the caller of %s: %s", t.id, exc)
                self.store.apply(t.id, t.call_sid, Change(
                    event={"event": "caller-not-returned", "error": str(exc), "code": exc.code},
                    after_finish=True, deadline=CLEAR))
            return False     # else the lease expires and the sweeper tries again
        self.store.apply(t.id, t.call_sid, done)
        return False

    def _return_label(self, t: Transfer) -> str:
        if t.settings.last_resort is LastResort.CALLBACK and not offers_callback(t):
            return "agent"
        return "agent" if t.settings.last_resort.is_agent and not self.ctx.fail_message else \
            t.settings.last_resort.value

    def end_legs(self, transfer_id: str, *, attempt: int | None = None) -> None:
        """End open recipient legs (of one attempt, when given), never the one that accepted."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            return
        for sid, (leg_attempt, state) in self.store.legs(transfer_id).items():
            if not state.is_open or sid.startswith("failed-") or sid == t.bridged_leg:
                continue
            if attempt is not None and leg_attempt != attempt:
                continue
            try:
                self.ctx.gateway.end_call(sid, ringing=state in (LegState.DIALED, LegState.RINGING))
            except GatewayError as exc:
                if not exc.call_is_gone:
                    try:   # it answered since we looked: 'completed', not 'canceled'
                        self.ctx.gateway.end_call(sid, ringing=False)
                    except GatewayError:
                        log.warning("could not end leg %s of %s", sid, transfer_id)
                        continue
            self.store.apply(t.id, t.call_sid, Change(
                event={"event": "leg-ended-by-handoff", "leg": sid, "attempt": leg_attempt},
                event_id=f"ended-by-handoff:{sid}", ignore_caller=True,
                leg=LegChange(sid=sid, state=LegState.ENDED, attempt=leg_attempt,
                                                                outcome=Outcome.CANCELLED)))

    # ------------------------------------------------------------------ what the caller hears next
    def caller_next(self, t: Transfer) -> d.Decision:
        """The caller's next document once the transfer is over (or a cold fallback is due)."""
        if not t.status.is_finished:
            return self.modes.of(t).caller_document(t)
        if t.outcome is Outcome.SUCCESS:
            if t.final:
                return d.Hangup()
            return self.agent(t, outcome=Outcome.SUCCESS.value, detail="recipient hung up")
        settings = t.settings
        # TRANSFER_FAIL_MESSAGE makes "say a message and hang up" the deployment's default last resort.
        if settings.last_resort is LastResort.MESSAGE or (settings.last_resort.is_agent and self.ctx.fail_message):
            return d.SayAndHangup(settings.last_resort_message or self.ctx.fail_message or
                                  "Sorry, nobody is available to take your call. Goodbye.")
        if settings.last_resort is LastResort.VOICEMAIL:
            return d.TakeVoicemail(settings.last_resort_message or
                                   "Nobody is available right now. Please leave a message after the tone.",
                                   action_url=self.ctx.urls.transfer(t.id, "voicemail", t.call_sid))
        if offers_callback(t):
            from ..callbacks import offer    # the offer's words and URL live with its webhook's domain

            return offer(t, self.ctx.urls, otherwise=self.told(t))
        return self.told(t)

    def told(self, t: Transfer) -> d.ConnectAgent:
        """Back to the AI agent after a transfer that did not reach anyone, told how it ended and why."""
        outcome = t.outcome.value if t.outcome else Outcome.CONNECTION_ERROR.value
        return self.agent(t, outcome=outcome, detail=t.outcome_detail, reason=t.reason or None)

    def agent(self, t: Transfer | None, *, outcome: str, detail: str, reason: str | None = None,
              call_sid: str | None = None) -> d.ConnectAgent:
        """Back to the AI agent, telling it how the transfer went (and why it was asked for)."""
        agent = self.ctx.agent
        params = {"call_sid": t.call_sid if t else call_sid, "transfer_outcome": outcome, "transfer_detail": detail,
                  "transfer_id": t.id if t else "", "transfer_reason": reason}
        return d.ConnectAgent(agent.kind, agent.url, self.ctx.urls.agent_ended(),
                              {k: v for k, v in params.items() if v})

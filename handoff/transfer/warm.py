"""Warm (attended) transfers: the caller waits in a conference; each recipient leg is screened.

Consent before content: a leg hears about the caller only once a human is established, by
detection saying 'human' (synchronous AMD: the leg's own Url request carries AnsweredBy, so the
whisper is answered inline, with no queue in between), or by a key press on a neutral prompt
when detection says 'unknown', is off, or cannot run (an extension dialed with sendDigits).
An attempt whose recipient takes calls cold (a voicemail box) is a direct leg: no detection, no
prompt, no whisper; on answer it joins the caller at once (it hears nothing but the caller).
Each attempt's legs use that attempt's own delivery settings (Transfer.leg_settings).
"""
from __future__ import annotations

import logging

from ..gateway import GatewayError, LegRequest
from ..record import Transfer
from ..state import (DIAL_RESULTS, WAITING, AttemptResult, CallerAt, DeadlineKind, LegState, Outcome,
                     Stamp, TransferStatus)
from ..changes import Change, Deadline, LegChange
from ..targets import TargetKind
from . import decisions as d
from .caller_ids import leg_from
from .cold import endpoint
from .lifecycle import JOIN_WINDOW
from .modes import ModeBase, speech_seconds
from .whisper import prepare_whisper

log = logging.getLogger("handoff.warm")
GRACE = 5                       # seconds of slack on every warm deadline
MAX_QUEUE_WAIT = 60             # seconds of Twilio's CPS queue an attempt's first deadline allows for
LEG_OUTCOMES = {"busy": Outcome.CONNECTION_ERROR, "failed": Outcome.CONNECTION_ERROR}


def queue_allowance(legs: int, cps: float) -> float:
    """How long Twilio may hold an attempt's legs `queued` before they ring: calls created beyond the
    account's CPS wait their turn (one turn per leg, and one for a call already waiting), bounded."""
    return min(MAX_QUEUE_WAIT, legs / cps)


def _whisper_started(attempt: int, leg_sid: str) -> dict:
    """The event for a recipient starting to hear about the caller (its text filled in by Lua from the record)."""
    return {"event": "whisper-started", "attempt": attempt, "leg": leg_sid, "fill": ["whisper"]}
DEFAULT_HOLD_ANNOUNCEMENT = "Please hold while I connect you."


class WarmMode(ModeBase):
    """First step, dialing, and the callbacks of a warm transfer."""

    holds_caller = True

    # ------------------------------------------------------------------ documents
    def caller_document(self, t: Transfer) -> d.Decision:
        """The caller in the conference, on hold audio until the recipient joins."""
        s, urls = t.settings, self.ctx.urls
        return d.HoldInConference(room=self.ctx.keys.conference(t.id),
                                  wait_url="" if s.hold_silence else urls.transfer(t.id, "hold", t.call_sid),
                                  action_url=urls.transfer(t.id, "caller-left", t.call_sid),
                                  status_callback_url=urls.transfer(t.id, "conference", t.call_sid),
                                  announcement=t.message or DEFAULT_HOLD_ANNOUNCEMENT)

    def _leg_url(self, t: Transfer, name: str, leg: str | None = None) -> str:
        """A leg callback URL carrying the delivery settings its webhook needs (signed by Twilio)."""
        s = t.leg_settings
        extra = {"j": 1} if t.direct else {}
        return self.ctx.urls.transfer(t.id, name, t.call_sid, attempt=t.attempt, leg=leg, at=s.accept_timeout,
                                      k=s.accept_key, d=s.decline_key, sw=int(self.screen_window(t)), **extra)

    def window(self, t: Transfer) -> float:
        """An attempt's legs must have answered by then (an answer extends it: detection, screening).

        Twilio's ring timeout counts from when a leg rings, which the CPS queue may delay: the window
        allows for that queue, and each leg's `ringing` re-arms it from then (leg_status)."""
        return t.leg_settings.timeout + GRACE + queue_allowance(len(t.current.targets), self.ctx.twilio_cps)

    @staticmethod
    def screen_window(t: Transfer) -> float:
        """From answer to a key: the consent prompt, the whisper and two accept prompts."""
        return speech_seconds(t.whisper) + 2 * (t.leg_settings.accept_timeout + 4) + 12 + GRACE

    def _on_hold(self) -> Change:
        """The caller is in the conference: the first attempt is due at once."""
        return Change(event={"event": "caller-on-hold"}, event_id="caller-on-hold", sources=[TransferStatus.REQUESTED],
                      to=TransferStatus.DIALING, caller=CallerAt.HOLD, deadline=Deadline(DeadlineKind.DIAL),
                      stamps=(Stamp.HOLD,))

    def inline_first(self, t: Transfer) -> tuple[Change, d.Decision]:
        return self._on_hold(), self.caller_document(t)

    # ------------------------------------------------------------------ steps (jobs)
    def start(self, t: Transfer) -> None:
        """Job: put the caller on hold in the conference, then dial the first attempt."""
        if not self.move_caller(t, self.caller_document(t)):
            return
        result = self.store.apply(t.id, t.call_sid, self._on_hold())
        if result.applied:
            self.dial(result.transfer)

    def dial(self, t: Transfer) -> None:
        """Job: dial every target of the attempt that is due (its deadline armed first)."""
        t = self.resolve(t)
        if t is None:
            return
        if not t.direct:
            t = prepare_whisper(self.ctx, t)
        attempt, s = t.current, t.leg_settings
        detection = s.human_detection and not t.direct
        # The caller's number as From needs the inbound call's CallToken (caller_ids.leg_from).
        from_, call_token, why = leg_from(self.ctx.caller_id, self.store.get_call(t.call_sid) or {}, t.leg_caller_id)
        if why:
            log.info("transfer %s attempt %s: %s", t.id, t.attempt, why)
        result = self.store.apply(t.id, t.call_sid, Change(
            event={"event": "dialing", "attempt": t.attempt, "targets": [x.describe() for x in attempt.targets],
                   "parallel": attempt.parallel, **({"caller_id_fallback": why} if why else {})},
            event_id=f"dial-attempt:{t.attempt}", attempt=t.attempt, sources=[TransferStatus.DIALING],
            fields={"legs_expected": len(attempt.targets)}, stamps=(Stamp.DIALED,),
            deadline=Deadline(DeadlineKind.ATTEMPT, self.window(t))))
        if not result.applied:
            return
        t = result.transfer
        for index, target in enumerate(attempt.targets):
            address = endpoint(target).address
            leg = LegRequest(to=address, from_=from_, call_token=call_token, url=self._leg_url(t, "leg-answer"),
                             status_callback=self.ctx.urls.transfer(t.id, "leg-status", t.call_sid, attempt=t.attempt,
                                                                    dt=s.detection_timeout if detection else 0,
                                                                    rt=s.timeout),
                             timeout=s.timeout, machine_detection=detection, detection_timeout=s.detection_timeout,
                             detection_tuning=(s.detection_speech_threshold, s.detection_speech_end_threshold,
                                               s.detection_silence_timeout),
                             send_digits=target.send_digits,
                             sip_username=target.sip_username, sip_password=target.sip_password)
            try:
                sid, queued = self.ctx.gateway.create_leg(leg)
            except GatewayError as exc:
                # Counts as an ended leg: once every leg has ended, the attempt has failed.
                outcome = Outcome.CANCELLED if exc.call_is_gone and target.kind is TargetKind.CLIENT \
                    else Outcome.CONNECTION_ERROR
                self.store.apply(t.id, t.call_sid, Change(
                    event={"event": "leg-failed", "attempt": t.attempt, "target": target.describe(),
                           "error": str(exc), "error_code": exc.code},
                    attempt=t.attempt, detail=f"could not dial: {exc}",
                    leg=LegChange(f"failed-{t.attempt}-{index}", LegState.ENDED, attempt=t.attempt,
                                  outcome=outcome if outcome is not Outcome.CANCELLED else Outcome.CONNECTION_ERROR,
                                  result=AttemptResult.FAILED)))
                continue
            # Twilio says how long its CPS queue holds the leg: the attempt waits that long more than
            # the allowance guessed, if it must (never less; the leg's ringing re-arms it again).
            self.store.apply(t.id, t.call_sid, Change(
                event={"event": "leg-dialed", "attempt": t.attempt, "leg": sid, "target": target.describe(),
                       **({"queue_seconds": round(queued, 3)} if queued else {})},
                event_id=f"dialed:{sid}", attempt=t.attempt, ignore_caller=True,
                leg=LegChange(sid, LegState.DIALED, attempt=t.attempt),
                deadline=Deadline(DeadlineKind.ATTEMPT, queued + s.timeout + GRACE, extend=True) if queued else None))

    def reconcile(self, t: Transfer) -> bool:
        """An accepted recipient Twilio never reported joining: ask Twilio before giving up on them."""
        if t.status is not TransferStatus.BRIDGED or not t.bridged_leg:
            return False
        try:
            joined = self.ctx.gateway.in_conference(self.ctx.keys.conference(t.id), t.bridged_leg)
        except GatewayError:
            return False
        if joined:
            self.store.apply(t.id, t.call_sid, self.lifecycle.succeeded(
                event={"event": "bridged", "leg": t.bridged_leg, "reconciled": True, "fill": {"card": "cards"}},
                attempt=t.attempt,
                sources=[TransferStatus.BRIDGED], detail="bridged"))
        return joined

    # ------------------------------------------------------------------ leg callbacks (webhooks)
    def leg_status(self, transfer_id: str, call_sid: str, attempt: int, *, leg_sid: str, call_status: str,
                   detection_timeout: int = 0, ring_timeout: int | None = None) -> None:
        """A recipient leg progressed; the last leg of an attempt ending fails it."""
        event = {"event": f"leg-{call_status}", "attempt": attempt, "leg": leg_sid, "call_status": call_status}
        event_id = f"leg-status:{leg_sid}:{call_status}"
        if call_status == "ringing":
            # Its ring timeout starts now, however long Twilio queued it: the attempt waits that long
            # from here (only ever later; once per leg; never on another attempt or a finished transfer).
            self.store.apply(transfer_id, call_sid, Change(
                event=event, event_id=event_id, attempt=attempt, sources=WAITING, to=TransferStatus.RINGING,
                forward_only=True, leg=LegChange(leg_sid, LegState.RINGING, attempt=attempt),
                deadline=Deadline(DeadlineKind.ATTEMPT, ring_timeout + GRACE, extend=True) if ring_timeout else None))
            return
        if call_status == "in-progress":
            # Answered: detection runs before its Url is requested; the attempt waits that long more.
            self.store.apply(transfer_id, call_sid, Change(
                event={**event, "event": "leg-picked-up"}, event_id=event_id, attempt=attempt, sources=WAITING,
                to=TransferStatus.ANSWERED, forward_only=True, leg=LegChange(leg_sid, LegState.ANSWERED, attempt=attempt),
                stamps=(Stamp.ANSWERED,),
                deadline=Deadline(DeadlineKind.ATTEMPT, detection_timeout + 2 * GRACE, extend=True)))
            return
        if call_status not in ("completed", "busy", "failed", "no-answer", "canceled"):
            return
        self._leg_ended(transfer_id, call_sid, attempt, leg_sid, event, event_id, f"leg {call_status}",
                        outcome=LEG_OUTCOMES.get(call_status, Outcome.TIMEOUT),
                        outcome_answered=Outcome.SCREENING_REJECTED,
                        result=DIAL_RESULTS.get(call_status, AttemptResult.FAILED), result_answered=AttemptResult.HUNG_UP)

    def _leg_ended(self, transfer_id: str, call_sid: str, attempt: int, leg_sid: str, event, event_id: str,
                   detail: str, *, outcome: Outcome, outcome_answered: Outcome, result: AttemptResult,
                   result_answered: AttemptResult | None = None) -> None:
        """A leg is over: recorded (failing the attempt if it was the last), and `advance` queued to act
        on what that made due, in one round trip."""
        batch = self.store.batch()
        self.store.apply(transfer_id, call_sid, Change(
            event=event, event_id=event_id, attempt=attempt, detail=detail,
            leg=LegChange(leg_sid, LegState.ENDED, attempt=attempt, outcome=outcome,
                          outcome_answered=outcome_answered, result=result,
                          result_answered=result_answered or result)), batch=batch)
        self.ctx.jobs.enqueue("advance", transfer_id, batch=batch)
        self.store.execute(batch)

    def leg_answer(self, transfer_id: str, call_sid: str, attempt: int, *, leg_sid: str, answered_by: str | None,
                   screen_window: int, accept_timeout: int, accept_key: str, decline_key: str,
                   direct: bool = False) -> d.Decision:
        """A leg answered, with detection's verdict: the whisper, a neutral prompt, or a hang-up; a direct
        leg joins the caller at once."""
        verdict = (answered_by or "").lower()
        events = [{"event": "leg-answered", "attempt": attempt, "leg": leg_sid, "answered_by": answered_by or None}]
        if direct:
            # A recipient that takes calls cold hears nothing about the caller, only the caller.
            return self._accept(transfer_id, call_sid, attempt, leg_sid,
                                [*events, {"event": "direct-join", "attempt": attempt, "leg": leg_sid}],
                                f"answer:{leg_sid}", require=None)
        if verdict:
            events.append({"event": "detection", "attempt": attempt, "leg": leg_sid, "answered_by": answered_by,
                           "verdict": "machine" if verdict.startswith("machine") or verdict == "fax" else
                           "human" if verdict == "human" else "unknown"})
        if verdict.startswith("machine") or verdict == "fax":
            self._leg_ended(transfer_id, call_sid, attempt, leg_sid, events, f"answer:{leg_sid}",
                            f"answered by {verdict}", outcome=Outcome.TIMEOUT, outcome_answered=Outcome.TIMEOUT,
                            result=AttemptResult.VOICEMAIL)
            return d.Hangup()     # a machine never hears anything about the caller
        state = LegState.SCREENING if verdict == "human" else LegState.CONSENT
        events.append(_whisper_started(attempt, leg_sid) if state is LegState.SCREENING else
                      {"event": "consent-prompt", "attempt": attempt, "leg": leg_sid})
        result = self.store.apply(transfer_id, call_sid, Change(
            event=events, event_id=f"answer:{leg_sid}", attempt=attempt, sources=WAITING,
            to=TransferStatus.SCREENING, forward_only=True, leg=LegChange(leg_sid, state, attempt=attempt),
            stamps=(Stamp.ANSWERED,), deadline=Deadline(DeadlineKind.ATTEMPT, screen_window, extend=True)))
        return self._screen(result, leg_sid, state, accept_timeout, accept_key, decline_key)

    def consent(self, transfer_id: str, call_sid: str, attempt: int, *, leg_sid: str, digits: str | None,
                screen_window: int, accept_timeout: int, accept_key: str, decline_key: str) -> d.Decision:
        """The neutral prompt's key: a press proves a person, who may now hear about the caller."""
        if (digits or "").strip() != accept_key:
            return self._leg_done(transfer_id, call_sid, attempt, leg_sid, Outcome.TIMEOUT,
                                  "nobody pressed a key at the consent prompt", d.Hangup(), digits,
                                  AttemptResult.TIMEOUT)
        result = self.store.apply(transfer_id, call_sid, Change(
            event=[{"event": "consent-given", "attempt": attempt, "leg": leg_sid, "digits": digits},
                   _whisper_started(attempt, leg_sid)], event_id=f"consent:{leg_sid}",
            attempt=attempt, sources=WAITING, leg=LegChange(leg_sid, LegState.SCREENING, attempt=attempt,
                                                            require=(LegState.CONSENT,)),
            deadline=Deadline(DeadlineKind.ATTEMPT, screen_window, extend=True)))
        return self._screen(result, leg_sid, LegState.SCREENING, accept_timeout, accept_key, decline_key)

    def _screen(self, result, leg_sid: str, state: LegState, accept_timeout: int, accept_key: str,
                decline_key: str) -> d.Decision:
        """The document for a leg entering `state` (or already in it, for a retried request)."""
        t = result.transfer
        if t is None or t.status.is_finished or result.verdict in ("stale", "caller-gone", "missing"):
            return d.Hangup()
        if t.status is TransferStatus.BRIDGED and t.bridged_leg != leg_sid:
            return d.TakenElsewhere()
        if result.verdict == "refused" and result.next in (LegState.CONSENT.value, LegState.SCREENING.value):
            state = LegState(result.next)
        elif result.verdict not in ("applied", "duplicate"):
            return d.Hangup()
        if state is LegState.CONSENT:
            return d.ConsentPrompt(key=accept_key, timeout=accept_timeout,
                                   action_url=self._leg_url(t, "consent", leg=leg_sid))
        return d.Whisper(text=t.whisper or "You have a transferred call.", accept_key=accept_key,
                         decline_key=decline_key, action_url=self._leg_url(t, "key", leg=leg_sid),
                         timeout=accept_timeout)

    def key_pressed(self, transfer_id: str, call_sid: str, attempt: int, *, leg_sid: str, digits: str | None,
                    accept_timeout: int, accept_key: str, decline_key: str) -> d.Decision:
        """The recipient pressed a key (or nothing): accept bridges, decline moves on."""
        digits = (digits or "").strip()
        if digits == accept_key:
            return self._accept(transfer_id, call_sid, attempt, leg_sid,
                                {"event": "key-pressed", "digits": digits, "leg": leg_sid, "attempt": attempt},
                                f"accept:{leg_sid}")
        if digits and digits != decline_key:
            return d.Whisper(text="", accept_key=accept_key, decline_key=decline_key, timeout=accept_timeout,
                             action_url=self.ctx.urls.transfer(transfer_id, "key", call_sid, attempt=attempt,
                                                               leg=leg_sid, at=accept_timeout, k=accept_key,
                                                               d=decline_key))
        if digits:
            return self._leg_done(transfer_id, call_sid, attempt, leg_sid, Outcome.SCREENING_REJECTED, "declined",
                                  d.Declined(), digits, AttemptResult.DECLINED)
        return self._leg_done(transfer_id, call_sid, attempt, leg_sid, Outcome.TIMEOUT, "no key pressed",
                              d.Hangup(), digits, AttemptResult.TIMEOUT)

    def _accept(self, transfer_id: str, call_sid: str, attempt: int, leg_sid: str, event, event_id: str, *,
                require: tuple[LegState, ...] | None = (LegState.SCREENING,)) -> d.Decision:
        batch = self.store.batch()
        # Bridged, not yet a success: that is decided when the recipient joins the conference.
        self.store.apply(transfer_id, call_sid, Change(
            event=event, event_id=event_id, attempt=attempt, sources=WAITING, to=TransferStatus.BRIDGED,
            detail="accepted", fields={"bridged_leg": leg_sid}, stamps=(Stamp.ANSWERED, Stamp.ACCEPTED),
            leg=LegChange(leg_sid, LegState.ACCEPTED, attempt=attempt, require=require),
            deadline=Deadline(DeadlineKind.JOIN, JOIN_WINDOW)), batch=batch)
        # The job ends the other legs, keeping the leg the record says won (never one it is told).
        self.ctx.jobs.enqueue("end_legs", transfer_id, batch=batch)
        result = self.store.execute(batch)[0]
        t = result.transfer
        if t is not None and t.status is TransferStatus.BRIDGED and t.bridged_leg == leg_sid:
            return d.JoinConference(room=self.ctx.keys.conference(transfer_id),
                                    status_callback_url=self.ctx.urls.transfer(transfer_id, "conference", call_sid))
        return d.TakenElsewhere() if t is not None and not t.status.is_finished else d.Hangup()

    def _leg_done(self, transfer_id: str, call_sid: str, attempt: int, leg_sid: str, outcome: Outcome,
                  detail: str, answer: d.Decision, digits: str | None, result: AttemptResult) -> d.Decision:
        self._leg_ended(transfer_id, call_sid, attempt, leg_sid,
                        {"event": "key-pressed" if digits else "no-key", "digits": digits or None, "leg": leg_sid,
                         "attempt": attempt}, f"key:{leg_sid}", detail, outcome=outcome, outcome_answered=outcome,
                        result=result)
        return answer

    # ------------------------------------------------------------------ conference callbacks
    def conference_event(self, transfer_id: str, call_sid: str, *, event: str, label: str | None,
                         conference_sid: str | None, participant: str | None, sequence: str | None) -> None:
        """Conference status callbacks: the recipient joining is the success; the rest feeds the timeline."""
        names = {"participant-join": "joined", "participant-leave": "left", "conference-start": "conference-started",
                 "conference-end": "conference-ended"}
        # The participant's call SID is the event's leg (`call` is the caller's, on every event).
        payload = {"event": names.get(event, event), "participant": label, "leg": participant,
                   "conference": conference_sid}
        event_id = f"conf:{event}:{participant or ''}:{sequence or ''}"
        fields = {"conference_sid": conference_sid} if conference_sid else None
        if (event == "participant-join" and label == "recipient") or (event == "conference-start" and conference_sid):
            # The recipient joining is the success. So is the conference starting: only the recipient
            # starts it (startConferenceOnEnter), and under load its participant-join may be the callback
            # that never comes. Whichever arrives first decides (one event id per conference); the other
            # is a duplicate, so the bridge is recorded once.
            # The event says whether a hand-off card may be due (handoff/cards.py queues it from the feed).
            payload = {**payload, "fill": {"card": "cards"}}
            if event == "conference-start":   # the event names the leg that accepted, as a join would
                payload = {**payload, "participant": "recipient", "fill": {"leg": "bridged_leg", "card": "cards"}}
            batch = self.store.batch()
            self.store.apply(transfer_id, call_sid, self.lifecycle.succeeded(
                event={**payload, "event": "bridged", "via": event},
                event_id=f"bridged:{conference_sid}" if conference_sid else event_id,
                sources=[TransferStatus.BRIDGED], detail="bridged", fields=fields), batch=batch)
            if conference_sid:
                self.ctx.jobs.enqueue("announce", transfer_id, conference_sid, batch=batch)
            self.store.execute(batch)
            return
        self.store.apply(transfer_id, call_sid, Change(event=payload, event_id=event_id, ignore_caller=True,
                                                       fields=fields))

    def caller_left(self, transfer_id: str, call_sid: str) -> d.Decision:
        """The caller's conference Dial ended without the caller hanging up (the recipient left)."""
        result = self.store.apply(transfer_id, call_sid, Change(
            event={"event": "leg-ended-after-bridge"}, event_id="caller-left-conference",
            sources=[TransferStatus.BRIDGED], to="completed", outcome=Outcome.SUCCESS, detail="recipient hung up",
            require_outcome=True, inline_return=self.lifecycle.inline_return))
        t = result.transfer
        if t is None or result.verdict == "caller-gone":
            return d.Hangup()
        if t.status.is_finished:
            return self.lifecycle.caller_next(t)
        # Still waiting (the conference ended under us): back on hold; the deadlines still run.
        return self.caller_document(t)

    # ------------------------------------------------------------------ the bridge announcement
    def announcement(self, transfer_id: str) -> d.Announcement:
        """What the conference hears when the bridge is announced."""
        t = self.store.get_transfer(transfer_id)
        return d.Announcement(t.leg_settings.announcement or "" if t else "")

    def announce(self, transfer_id: str, conference_sid: str) -> None:
        """Job: play the bridge announcement, if the transfer has one, to both sides, once."""
        t = self.store.get_transfer(transfer_id)
        if t is None or not t.leg_settings.announcement:
            return
        claimed = self.store.apply(t.id, t.call_sid, Change(event={"event": "announced"}, event_id="announcement",
                                                           sources=[TransferStatus.BRIDGED]))
        if not claimed.applied:
            return
        try:
            self.ctx.gateway.announce(conference_sid,
                                      announce_url=self.ctx.urls.transfer(t.id, "announcement", t.call_sid))
        except GatewayError:
            pass    # the bridge stands without its announcement

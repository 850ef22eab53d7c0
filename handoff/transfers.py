"""The transfer service: requests, Twilio callbacks and worker steps, as transitions of one state machine.

Webhook-facing methods make one Redis round trip (a Lua transition, batched with any RQ enqueue)
and never call Twilio. Worker-facing methods (`run_*`) may call Twilio through the gateway.
"""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import twiml

from .callback_urls import CallbackUrls
from .config import AgentConnection
from .destinations import AllowList, DestinationError, parse_e164, parse_raw_target
from .gateway import GatewayError, LegRequest, TwilioGateway
from .jobs import JobQueue
from .records import (
    expand_plan,
    parse_handoff_data,
    present_transfer,
    settings_from_json,
    settings_to_json,
    target_from_json,
    target_to_json,
)
from .state import DIAL_STATUS_OUTCOMES, Outcome, TransferMode, TransferStatus
from .store import Store, TransferRecord, TransitionResult, utc_now_iso
from .summary import BuiltinSummariser, Summariser
from .targets import DeliverySettings, LastResort, Plan, Step, Target, TargetKind
from .transfer_request import TransferRequest

log = logging.getLogger("handoff.transfers")

WAITING = (TransferStatus.REQUESTED, TransferStatus.DIALING, TransferStatus.RINGING,
           TransferStatus.ANSWERED, TransferStatus.SCREENING)
RING_GRACE = 5          # seconds past Twilio's own ring timeout before our timer fails the attempt
CALL_ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}


class TransferRefused(Exception):
    """The request cannot become a transfer; `field` names the offending input (422)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


class TransferConflict(Exception):
    """Another transfer is in flight on the call (409), or the transfer cannot be cancelled now."""

    def __init__(self, message: str, *, transfer_id: str | None = None):
        super().__init__(message)
        self.transfer_id = transfer_id


class UnknownCall(Exception):
    """The call SID is not one Handoff has seen (404)."""


def _new_id() -> str:
    return "tr_" + secrets.token_hex(12)


class TransferService:
    """Every decision about a transfer; used by the blueprints (webhooks, API) and the RQ jobs."""

    def __init__(self, *, store: Store, jobs: JobQueue, urls: CallbackUrls, agent: AgentConnection,
                 allow_list: AllowList, router: Callable[[], Any] | None = None,
                 gateway_factory: Callable[[], TwilioGateway] | None = None,
                 summariser: Summariser | None = None, caller_id: str | None = None,
                 fail_message: str | None = None):
        self.store = store
        self.jobs = jobs
        self.urls = urls
        self.agent = agent
        self.allow_list = allow_list
        self._router = router or (lambda: None)
        self._gateway_factory = gateway_factory
        self._gateway: TwilioGateway | None = None
        self.summariser = summariser or BuiltinSummariser()
        self.default_caller_id = caller_id
        self.fail_message = fail_message

    @property
    def gateway(self) -> TwilioGateway:
        """The process's Twilio client, built on first use (web processes never need one)."""
        if self._gateway is None:
            if self._gateway_factory is None:
                raise RuntimeError("no Twilio gateway configured for this process")
            self._gateway = self._gateway_factory()
        return self._gateway

    # ------------------------------------------------------------------ requests (API, tools, hand-off)
    def request_transfer(self, call_sid: str, request: TransferRequest, *, idempotency_key: str | None = None,
                         via: str = "api") -> tuple[TransferRecord, bool]:
        """Validate and store a transfer, then queue its start; returns (transfer, created)."""
        idem = f"{call_sid}:{idempotency_key}" if idempotency_key else None
        context = self.store.call_context(call_sid, idempotency_key=idem)   # one round trip
        if context.idempotent_transfer_id:
            # A retry must not be refused by validation that has since changed: answer it first.
            return self.store.get_transfer(context.idempotent_transfer_id), False
        if context.call is None:
            raise UnknownCall(call_sid)
        # Answer "one is already in flight" before routing: a routing refusal must not hide the 409.
        # (The create script checks again, atomically.)
        if context.active_transfer_id:
            raise TransferConflict(f"transfer {context.active_transfer_id} is already in flight on this call",
                                   transfer_id=context.active_transfer_id)
        fields, settings, attempts = self._prepare(call_sid, context.call, request, via=via,
                                                   call_variables=context.variables)
        result = self.store.create_transfer(
            fields, event={"event": "requested", "to": request.to, "mode": fields["mode"], "via": via,
                           "reason": request.reason},
            idempotency_key=idem)
        if result.verdict == "idempotent":
            return self.store.get_transfer(result.transfer_id), False
        if result.verdict == "conflict":
            raise TransferConflict(f"transfer {result.transfer_id} is already in flight on this call",
                                   transfer_id=result.transfer_id)
        if result.verdict == "no-call":
            raise UnknownCall(call_sid)
        if via != "handoff":
            self.jobs.enqueue("start_transfer", result.transfer_id)
        # The script stored exactly these fields: no need to read them back.
        record = TransferRecord({name: str(value) for name, value in fields.items()})
        log.info(json.dumps({"event": "transfer-requested", "transfer": record.id, "call": call_sid,
                             "mode": record.mode, "to": request.to, "via": via}))
        return record, True

    def _plan(self, call: Mapping[str, str], request: TransferRequest, call_variables: Mapping[str, str]) -> Plan:
        router = self._router()
        variables = {str(k): str(v) for k, v in (request.variables or {}).items()}
        if router is not None:
            from handoff.routing import (
                RoutingError,  # routing is optional until configured
            )

            call_variables = {"caller": call.get("from", ""), "from": call.get("from", ""),
                              "to": call.get("to", ""), **call_variables}
            try:
                return router.plan(request.to, variables=variables, call_variables=call_variables,
                                   now=datetime.now(timezone.utc), mode=request.mode)
            except RoutingError as exc:
                raise TransferRefused(getattr(exc, "field", None) or "to", getattr(exc, "message", str(exc)))
        try:
            target = parse_raw_target(request.to, self.allow_list)
        except DestinationError as exc:
            raise TransferRefused("to", exc.reason) from None
        return Plan(steps=(Step(targets=(target,)),), reasons=("raw number on the allow-list",))

    def _prepare(self, call_sid: str, call: Mapping[str, str], request: TransferRequest, *, via: str,
                 call_variables: Mapping[str, str]):
        plan = self._plan(call, request, call_variables)
        settings = plan.settings
        mode = TransferMode(request.mode or settings.mode or "cold")
        overrides: dict[str, Any] = {"mode": mode.value}
        if request.message is not None:
            overrides["message"] = request.message
        if request.timeout is not None:
            overrides["timeout"] = request.timeout
        if request.caller_id is not None:
            overrides["caller_id"] = request.caller_id
        settings = replace(settings, **overrides)
        attempts = expand_plan(plan)
        sip_call = call.get("sip") == "1"
        if request.refer:
            if not sip_call:
                raise TransferRefused("refer", "SIP REFER is only possible on a call that arrived over SIP")
            if mode is not TransferMode.COLD:
                raise TransferRefused("refer", "SIP REFER is a cold transfer; use mode 'cold'")
        if not attempts:
            # Routing found nobody to dial (closed hours, a rule whose fallback is the last resort):
            # the agent keeps the caller and can say why.
            why = "; ".join(plan.reasons) or "no recipient matches"
            raise TransferRefused("to", f"nobody can take this call now ({why})")
        if mode is TransferMode.AGENT and any(t["kind"] != "agent" for a in attempts for t in a["targets"]):
            raise TransferRefused("to", "an agent hand-off needs a recipient of type 'agent'")
        if mode is not TransferMode.AGENT and any(t["kind"] == "agent" for a in attempts for t in a["targets"]):
            raise TransferRefused("mode", "this recipient is an AI agent: use mode 'agent'")
        if mode is TransferMode.COLD and any(a["parallel"] for a in attempts):
            raise TransferRefused("mode", "a parallel group needs a warm transfer (the first to accept wins)")
        caller_id = self._caller_id(call, settings.caller_id)
        now = utc_now_iso()
        fields = {
            "id": _new_id(), "call_sid": call_sid, "mode": mode.value, "status": TransferStatus.REQUESTED.value,
            "attempt": 0, "attempts_total": len(attempts), "plan": json.dumps(attempts),
            "settings": json.dumps(settings_to_json(settings)), "to": request.to,
            "reason": request.reason or "", "summary": request.summary or "", "message": settings.message or "",
            "variables": json.dumps(dict(request.variables or {})), "final": "1" if request.final else "0",
            "caller_id": caller_id or "", "timeout": settings.timeout, "refer": "1" if request.refer else "0",
            "context": json.dumps(dict(request.context or {})), "via": via, "created_at": now, "updated_at": now,
            "legs_expected": 0, "reasons": json.dumps(list(plan.reasons)),
        }
        return fields, settings, attempts

    def _caller_id(self, call: Mapping[str, str], policy: str | None) -> str | None:
        policy = (policy or "agent").strip()
        if policy == "agent":
            return self.default_caller_id or call.get("to") or None
        if policy == "caller":
            return call.get("from") or None
        try:
            number = parse_e164(policy)
        except DestinationError:
            raise TransferRefused("caller_id", "must be 'agent', 'caller' or an E.164 number") from None
        # Caller ID spoofing is refused: only numbers this call or the deployment already owns.
        if number not in {call.get("to"), call.get("from"), self.default_caller_id}:
            raise TransferRefused("caller_id", "must be the agent's number, the caller's, or TRANSFER_CALLER_ID")
        return number

    def cancel(self, transfer_id: str) -> TransferRecord:
        """Cancel a transfer that has not bridged yet; the caller goes back to the agent."""
        result = self.store.transition(transfer_id, allowed_from=WAITING, to="completed", outcome=Outcome.CANCELLED,
                                       detail="cancelled through the API", event={"event": "cancel-requested"})
        if result.verdict == "missing":
            raise KeyError(transfer_id)
        if not result.applied:
            raise TransferConflict(f"transfer is {result.transfer.status.value}; only a transfer in progress "
                                   "can be cancelled", transfer_id=transfer_id)
        self.jobs.enqueue("after_attempt", transfer_id, result.transfer.attempt)
        return result.transfer

    # ------------------------------------------------------------------ reading
    def transfer_view(self, transfer_id: str) -> dict | None:
        """The transfer as the API shows it: status, outcome, targets (no secrets) and timeline."""
        record, timeline = self.store.get_transfer_with_timeline(transfer_id)
        if record is None:
            return None
        return present_transfer(record, timeline)

    def call_view(self, call_sid: str) -> dict | None:
        """A call with its transfers, oldest first."""
        call = self.store.get_call(call_sid)
        if call is None:
            return None
        transfers = []
        for transfer_id in self.store.call_transfer_ids(call_sid):
            view = self.transfer_view(transfer_id)
            if view:
                transfers.append(view)
        return {"sid": call_sid, **{k: v for k, v in call.items() if k != "sip"}, "sip": call.get("sip") == "1",
                "variables": self.store.get_call_variables(call_sid), "transfers": transfers}

    # ------------------------------------------------------------------ the caller's own call
    def incoming_call(self, *, call_sid: str, from_: str, to: str, direction: str | None) -> str:
        """Record a new call and connect the caller to the AI agent."""
        self.store.record_call(call_sid, {"from": from_, "to": to, "direction": direction or "inbound",
                                          "sip": "1" if from_.startswith("sip:") else "0", "status": "in-progress",
                                          "created_at": utc_now_iso()})
        return twiml.agent_connect(kind=self.agent.kind, url=self.agent.url, action_url=self.urls.agent_ended(),
                                   parameters={"call_sid": call_sid, "caller": from_})

    def call_status(self, *, call_sid: str, status: str) -> None:
        """A status callback for the caller's call; an ended call cancels its transfer in flight."""
        if status not in CALL_ENDED:
            return
        result = self.store.call_ended(call_sid, call_status=status)
        if result.applied and result.transfer.mode == "warm":
            # Ringing or whispering legs must not reach a caller who is gone.
            self.jobs.enqueue("end_legs", result.transfer.id, "")

    def agent_session_ended(self, *, call_sid: str, handoff_data: str | None, status: str | None) -> str:
        """Connect's action: the agent session ended, possibly asking for a transfer in HandoffData."""
        request = parse_handoff_data(handoff_data)
        if request is None:
            return twiml.hangup()
        try:
            record, created = self.request_transfer(call_sid, request, via="handoff")
        except (TransferRefused, TransferConflict, UnknownCall) as exc:
            message = getattr(exc, "message", str(exc))
            return self._agent_twiml(call_sid, outcome="transfer-refused", detail=message, transfer_id="")
        return self._handoff_twiml(record)

    def _handoff_twiml(self, record: TransferRecord) -> str:
        """The caller has already left the agent: answer with the transfer's first document."""
        attempts = record.json_field("plan", [])
        first = attempts[0]
        if first.get("dynamic"):
            # The destination needs a remote lookup, which only a worker may do.
            self.jobs.enqueue("start_transfer", record.id)
            settings = settings_from_json(record.json_field("settings", {}))
            return twiml.agent_hold(message=settings.message or "Please hold while I connect you.",
                                    music_url=settings.hold_music_url)
        if record.mode == "cold":
            self.store.transition(record.id, allowed_from=[TransferStatus.REQUESTED], to="dialing",
                                  event={"event": "dialing", "attempt": 0, "target": _describe(first)})
            self._schedule_ring_timeout(record, 0)
            return self._cold_twiml(record, 0)
        if record.mode == "agent":
            self.store.transition(record.id, allowed_from=[TransferStatus.REQUESTED], to="completed",
                                  outcome=Outcome.SUCCESS, detail="handed to agent",
                                  event={"event": "handed-to-agent", "target": _describe(first)})
            return self._agent_handoff_twiml(record, target_from_json(first["targets"][0]))
        # Warm: the caller waits in the conference while a worker dials the recipient.
        self.store.transition(record.id, allowed_from=[TransferStatus.REQUESTED], to="dialing",
                              event={"event": "caller-on-hold"})
        self.jobs.enqueue("dial_attempt", record.id, 0)
        return self._caller_conference_twiml(record)

    # ------------------------------------------------------------------ cold transfer callbacks
    def dial_action(self, transfer_id: str, attempt: int, *, dial_status: str, dial_call_sid: str | None,
                    duration: str | None) -> str:
        """Cold Dial finished: bridged-and-ended, or failed (next attempt, or back to the agent)."""
        outcome = DIAL_STATUS_OUTCOMES.get(dial_status, Outcome.CONNECTION_ERROR)
        event = {"event": "dial-ended", "attempt": attempt, "dial_status": dial_status, "leg": dial_call_sid,
                 "duration": duration}
        if outcome.is_success:
            result = self._cold_attempt_moved_on(
                transfer_id, attempt, allowed_from=[TransferStatus.DIALING, TransferStatus.RINGING,
                                                    TransferStatus.BRIDGED],
                to="completed", outcome=Outcome.SUCCESS, detail="bridge ended", event=event,
                event_id=f"dial-action:{attempt}")
        else:
            result = self._cold_attempt_moved_on(
                transfer_id, attempt, allowed_from=[TransferStatus.DIALING, TransferStatus.RINGING], to="fail-attempt",
                outcome=outcome, detail=f"dial {dial_status}", event=event, event_id=f"dial-action:{attempt}")
        return self._cold_followup_twiml(result)

    def _cold_attempt_moved_on(self, transfer_id: str, attempt: int, **transition) -> TransitionResult:
        """A cold attempt left its waiting state: apply that, and cancel its ring timer, in one round trip."""
        batch = self.store.batch()
        self.store.transition(transfer_id, attempt=attempt, batch=batch, **transition)
        self.jobs.unschedule(_timer_id(transfer_id, attempt, "", "ring"), batch=batch)
        return self.store.execute(batch)[0]

    def _cold_followup_twiml(self, result: TransitionResult) -> str:
        record = result.transfer
        if record is None:
            return twiml.hangup()
        status = record.status
        if status is TransferStatus.DIALING:
            # The fallback chain moved on: dial the next attempt in the same document.
            self._schedule_ring_timeout(record, record.attempt)
            return self._cold_twiml(record, record.attempt)
        if status is TransferStatus.COMPLETED:
            return self._ended_twiml(record)
        return twiml.hangup()

    def dial_status(self, transfer_id: str, attempt: int, *, leg_sid: str, call_status: str,
                    sequence: str | None) -> None:
        """A cold transfer's leg progressed (Number/Sip/Client statusCallback)."""
        event_id, event = _leg_status_event("dial-status", attempt, leg_sid, call_status)
        if call_status == "ringing":
            self._leg_ringing(transfer_id, attempt, leg_sid, event, event_id)
        elif call_status in ("in-progress", "answered"):
            self._cold_attempt_moved_on(transfer_id, attempt,
                                        allowed_from=[TransferStatus.DIALING, TransferStatus.RINGING],
                                        to="bridged", outcome=Outcome.SUCCESS, detail="answered",
                                        event={"event": "bridged", "attempt": attempt, "leg": leg_sid},
                                        event_id=event_id, fields={"bridged_leg": leg_sid})
        elif call_status in CALL_ENDED:
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ended", event=event,
                                 event_id=event_id)
        elif call_status == "initiated":
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="dialed", event=event,
                                 event_id=event_id)

    def _leg_ringing(self, transfer_id: str, attempt: int, leg_sid: str, event: dict, event_id: str) -> None:
        self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ringing", status="ringing",
                             event=event, event_id=event_id)

    def refer_action(self, transfer_id: str, attempt: int, *, refer_status: str | None,
                     sip_code: str | None) -> str:
        """Refer's action: 2xx means the caller's SIP side took the call; anything else fails."""
        ok = (refer_status or "").lower() in ("in-progress", "completed", "answered") or \
            (sip_code or "").startswith("2")
        event = {"event": "refer-result", "refer_status": refer_status, "sip_code": sip_code}
        if ok:
            self._cold_attempt_moved_on(transfer_id, attempt, allowed_from=[TransferStatus.DIALING], to="completed",
                                        outcome=Outcome.SUCCESS, detail=f"REFER accepted ({sip_code})",
                                        event=event, event_id=f"refer:{attempt}")
            return twiml.hangup()   # the caller's SIP side has taken the call: our leg is done
        outcome = Outcome.TIMEOUT if sip_code in ("408", "480") else Outcome.CONNECTION_ERROR
        result = self._cold_attempt_moved_on(transfer_id, attempt, allowed_from=[TransferStatus.DIALING],
                                             to="fail-attempt", outcome=outcome,
                                             detail=f"REFER failed ({sip_code or refer_status})",
                                             event=event, event_id=f"refer:{attempt}")
        return self._cold_followup_twiml(result)

    # ------------------------------------------------------------------ warm transfer callbacks
    def leg_status(self, transfer_id: str, attempt: int, *, leg_sid: str, call_status: str,
                   sequence: str | None) -> None:
        """A warm recipient leg progressed; the last leg of an attempt ending fails it."""
        event_id, event = _leg_status_event("leg-status", attempt, leg_sid, call_status)
        if call_status == "ringing":
            self._leg_ringing(transfer_id, attempt, leg_sid, event, event_id)
            return
        if call_status not in CALL_ENDED:
            return
        outcome = DIAL_STATUS_OUTCOMES.get(call_status, Outcome.CONNECTION_ERROR)
        if outcome.is_success or outcome is Outcome.CANCELLED:
            outcome = Outcome.TIMEOUT     # a leg we cancelled (ring timeout) or one that just hung up
        batch = self.store.batch()
        self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ended", outcome=outcome,
                             detail=f"leg {call_status}", event=event, event_id=event_id,
                             outcome_if_answered=Outcome.SCREENING_REJECTED, batch=batch)
        self.jobs.enqueue("after_attempt", transfer_id, attempt, batch=batch)
        self.store.execute(batch)

    def leg_answered(self, transfer_id: str, attempt: int, *, leg_sid: str, detect: bool, detect_timeout: int,
                     accept_timeout: int) -> str:
        """A recipient leg answered: silence while AMD decides, or straight to the whisper."""
        if not detect:
            return self._start_whisper(transfer_id, attempt, leg_sid, accept_timeout=accept_timeout)
        batch = self.store.batch()
        self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="answered", status="answered",
                             event={"event": "leg-answered", "attempt": attempt, "leg": leg_sid},
                             event_id=f"answered:{leg_sid}", batch=batch)
        self.jobs.schedule("leg_timeout", transfer_id, attempt, leg_sid, "answered", delay=detect_timeout,
                           job_id=_timer_id(transfer_id, attempt, leg_sid, "detect"), batch=batch)
        result = self.store.execute(batch)[0]
        unwanted = _unwanted_leg_twiml(result)
        if unwanted:
            return unwanted
        if result.verdict == "refused" and result.next in ("human", "screening"):
            # AMD already said human (its callback overtook this one): whisper now.
            return self._start_whisper(transfer_id, attempt, leg_sid, accept_timeout=accept_timeout)
        if result.verdict == "refused" and result.next == "ended":
            return twiml.hangup()      # a machine, already rejected
        return twiml.leg_awaiting_detection(seconds=detect_timeout + 30)

    def leg_amd(self, transfer_id: str, attempt: int, *, leg_sid: str, answered_by: str) -> None:
        """Answering-machine detection finished: a human hears the whisper; a machine never does."""
        human = answered_by in ("human", "unknown")
        event = {"event": "amd-result", "attempt": attempt, "leg": leg_sid, "answered_by": answered_by}
        batch = self.store.batch()
        if human:
            # No required state: AMD's verdict can overtake the leg-answer webhook; ranks keep order.
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="human",
                                 event=event, event_id=f"amd:{leg_sid}", batch=batch)
            self.jobs.enqueue("whisper_leg", transfer_id, attempt, leg_sid, batch=batch)
        else:
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ended", outcome=Outcome.TIMEOUT,
                                 detail=f"answered by {answered_by}", event=event, event_id=f"amd:{leg_sid}",
                                 batch=batch)
            self.jobs.enqueue("drop_leg", transfer_id, attempt, leg_sid, batch=batch)
        self.jobs.unschedule(_timer_id(transfer_id, attempt, leg_sid, "detect"), batch=batch)
        self.store.execute(batch)

    def whisper(self, transfer_id: str, attempt: int, *, leg_sid: str, accept_timeout: int) -> str:
        """The leg's whisper document (requested after a human was detected)."""
        return self._start_whisper(transfer_id, attempt, leg_sid, accept_timeout=accept_timeout)

    def _start_whisper(self, transfer_id: str, attempt: int, leg_sid: str, *, accept_timeout: int) -> str:
        batch = self.store.batch()
        self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="screening", status="screening",
                             event={"event": "whisper-played", "attempt": attempt, "leg": leg_sid},
                             event_id=f"whisper:{leg_sid}", batch=batch)
        # Whisper (~15 s at most) plus two prompts with their key timeouts, plus slack; a timer
        # armed for a leg that is not screening is refused when it fires.
        self.jobs.schedule("leg_timeout", transfer_id, attempt, leg_sid, "screening",
                           delay=20 + 2 * (accept_timeout + 5),
                           job_id=_timer_id(transfer_id, attempt, leg_sid, "accept"), batch=batch)
        result = self.store.execute(batch)[0]
        unwanted = _unwanted_leg_twiml(result)
        if unwanted:
            return unwanted
        record = result.transfer
        settings = settings_from_json(record.json_field("settings", {}))
        return twiml.whisper_prompt(whisper=record.fields.get("whisper") or "You have a transferred call.",
                                    accept_key=settings.accept_key, decline_key=settings.decline_key,
                                    key_action_url=self._leg_url(record.id, "key", attempt, settings, leg=leg_sid),
                                    timeout=settings.accept_timeout)

    def key_pressed(self, transfer_id: str, attempt: int, *, leg_sid: str, digits: str | None, accept_key: str,
                    decline_key: str, accept_timeout: int) -> str:
        """The recipient pressed a key (or nothing): accept bridges, decline moves on."""
        digits = (digits or "").strip()
        if digits == accept_key:
            batch = self.store.batch()
            # Bridged, but not yet a success: that is decided when the recipient joins the conference.
            self.store.transition(transfer_id, allowed_from=WAITING, to="bridged",
                                  detail="accepted", event={"event": "key-pressed", "digits": digits, "leg": leg_sid,
                                                            "attempt": attempt},
                                  event_id=f"accept:{leg_sid}", attempt=attempt,
                                  fields={"bridged_leg": leg_sid}, batch=batch)
            # The leg leaves 'screening', so no stray accept timer can ever hang up a bridged leg.
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="accepted",
                                 event_id=f"accepted:{leg_sid}", batch=batch)
            self.jobs.enqueue("end_legs", transfer_id, leg_sid, batch=batch)
            self.jobs.unschedule(_timer_id(transfer_id, attempt, leg_sid, "accept"), batch=batch)
            self.jobs.unschedule(_timer_id(transfer_id, attempt, "", "ring"), batch=batch)
            result = self.store.execute(batch)[0]
            record = result.transfer
            if record is not None and record.status is TransferStatus.BRIDGED and \
                    record.fields.get("bridged_leg") == leg_sid:
                return twiml.join_conference(room=_room(transfer_id),
                                             status_callback_url=self.urls.transfer(transfer_id, "conference"))
            return twiml.taken_elsewhere() if record is not None else twiml.hangup()
        if digits and digits != decline_key:
            # Any other key: say the prompt again.
            return self._start_whisper(transfer_id, attempt, leg_sid, accept_timeout=accept_timeout)
        outcome = Outcome.SCREENING_REJECTED if digits else Outcome.TIMEOUT
        batch = self.store.batch()
        self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ended", outcome=outcome,
                             detail="declined" if digits else "no key pressed",
                             event={"event": "key-pressed" if digits else "no-key", "digits": digits,
                                    "leg": leg_sid, "attempt": attempt},
                             event_id=f"key:{leg_sid}", batch=batch)
        self.jobs.enqueue("after_attempt", transfer_id, attempt, batch=batch)
        self.jobs.unschedule(_timer_id(transfer_id, attempt, leg_sid, "accept"), batch=batch)
        self.store.execute(batch)
        return twiml.thanks_and_hangup() if digits else twiml.hangup()

    def conference_event(self, transfer_id: str, *, event: str, label: str | None, conference_sid: str | None,
                         call_sid: str | None, sequence: str | None) -> None:
        """Conference status callbacks: they feed the timeline (bridged, left, ended)."""
        names = {"participant-join": "joined", "participant-leave": "left", "conference-start": "conference-started",
                 "conference-end": "conference-ended"}
        name = names.get(event, event)
        if event == "participant-join" and label == "recipient":
            name = "bridged"
        payload = {"event": name, "participant": label, "call": call_sid, "conference": conference_sid}
        batch = self.store.batch()
        fields = {"conference_sid": conference_sid} if conference_sid else None
        event_id = f"conf:{event}:{call_sid or ''}:{sequence or ''}"
        if name == "bridged":
            # The recipient is in the conference with the caller: now the transfer has succeeded.
            self.store.transition(transfer_id, allowed_from=[TransferStatus.BRIDGED], to="bridged",
                                  outcome=Outcome.SUCCESS, detail="bridged", event=payload, event_id=event_id,
                                  fields=fields, batch=batch)
        else:
            self.store.transition(transfer_id, allowed_from="*", event=payload, event_id=event_id, fields=fields,
                                  batch=batch)
        if name == "bridged" and conference_sid:
            # The job plays the announcement only if the transfer has one (and only once).
            self.jobs.enqueue("announce", transfer_id, conference_sid, batch=batch)
        self.store.execute(batch)

    def caller_left_conference(self, transfer_id: str) -> str:
        """The caller's conference Dial ended without the caller hanging up (the recipient left)."""
        result = self.store.transition(transfer_id, allowed_from=[TransferStatus.BRIDGED], to="completed",
                                       outcome=Outcome.SUCCESS, detail="recipient hung up",
                                       event={"event": "leg-ended-after-bridge"}, event_id="caller-left-conference",
                                       require_outcome=True)
        record = result.transfer
        if record is None:
            return twiml.hangup()
        if record.outcome is Outcome.SUCCESS or record.status is TransferStatus.COMPLETED:
            return self._ended_twiml(record)
        # Still waiting (the conference ended under us): keep the caller on hold audio.
        return self._caller_conference_twiml(record)

    def hold_twiml(self, transfer_id: str) -> str:
        """The conference waitUrl document for this transfer."""
        record = self.store.get_transfer(transfer_id)
        settings = settings_from_json(record.json_field("settings", {})) if record else DeliverySettings()
        return twiml.hold_audio(music_url=settings.hold_music_url, message=settings.hold_message)

    # ------------------------------------------------------------------ worker steps
    def run_start(self, transfer_id: str) -> None:
        """Job: move the caller (cold dial, conference, other agent) and dial the first attempt."""
        record = self.store.get_transfer(transfer_id)
        if record is None or record.status is not TransferStatus.REQUESTED:
            return   # already started, or finished (cancelled before a worker got to it)
        attempts = record.json_field("plan", [])
        if attempts[0].get("dynamic"):
            record = self._resolve_dynamic(record, 0)
            if record is None:
                return
        self._prepare_whisper(record)
        mode = record.mode
        if mode == "warm":
            result = self.store.transition(transfer_id, allowed_from=[TransferStatus.REQUESTED], to="dialing",
                                           event={"event": "caller-on-hold"})
            if not result.applied:
                return
            try:
                self.gateway.redirect_call(record.call_sid, twiml=self._caller_conference_twiml(record))
            except GatewayError as exc:
                self._fail_start(record, exc)
                return
            self.run_dial_attempt(transfer_id, 0)
            return
        first = attempts[0]
        if mode == "agent":
            target = target_from_json(first["targets"][0])
            try:
                self.gateway.redirect_call(record.call_sid, twiml=self._agent_handoff_twiml(record, target))
            except GatewayError as exc:
                self._fail_start(record, exc)
                return
            self.store.transition(transfer_id, allowed_from=[TransferStatus.REQUESTED], to="completed",
                                  outcome=Outcome.SUCCESS, detail="handed to agent",
                                  event={"event": "handed-to-agent", "target": _describe(first)})
            return
        result = self.store.transition(transfer_id, allowed_from=[TransferStatus.REQUESTED], to="dialing",
                                       event={"event": "dialing", "attempt": 0, "target": _describe(first),
                                              "refer": record.fields.get("refer") == "1"})
        if not result.applied:
            return
        # Armed before the dial, so the Dial action (which cancels it) can never come first.
        self._schedule_ring_timeout(record, 0)
        try:
            self.gateway.redirect_call(record.call_sid, twiml=self._cold_twiml(record, 0))
        except GatewayError as exc:
            self._fail_start(record, exc)

    def _fail_start(self, record: TransferRecord, exc: GatewayError) -> None:
        detail = f"Twilio error {exc.code}: {exc}" if exc.code else str(exc)
        self.store.transition(record.id, allowed_from=WAITING, to="completed", outcome=Outcome.CONNECTION_ERROR,
                              detail=detail, event={"event": "failed", "error": detail})
        if not exc.call_is_gone and record.mode == "warm":
            self.run_after_attempt(record.id, record.attempt)

    def _resolve_dynamic(self, record: TransferRecord, attempt: int) -> TransferRecord | None:
        """Resolve a dynamic recipient's address (a remote webhook) into the stored plan."""
        attempts = record.json_field("plan", [])
        name = attempts[attempt]["dynamic"]
        router = self._router()
        try:
            if router is None:
                raise ValueError("no routing configuration loaded")
            call = self.store.get_call(record.call_sid) or {}
            target = router.resolve_dynamic(name, context={
                "call_sid": record.call_sid, "caller": call.get("from"), "reason": record.fields.get("reason"),
                "variables": self._variables(record), "transfer_id": record.id})
        except Exception as exc:   # RoutingError and anything the webhook did: the fallback handles it
            result = self.store.transition(record.id, allowed_from=WAITING, to="fail-attempt",
                                           outcome=Outcome.CONNECTION_ERROR, attempt=attempt,
                                           detail=f"dynamic destination {name}: {exc}",
                                           event={"event": "dynamic-destination-failed", "recipient": name,
                                                  "error": str(exc)})
            self.run_after_attempt(record.id, attempt)
            return None
        attempts[attempt]["targets"] = [target_to_json(target)]
        attempts[attempt]["dynamic"] = None
        result = self.store.transition(record.id, allowed_from="*", attempt=attempt,
                                       event={"event": "dynamic-destination", "recipient": name,
                                              "target": target.describe()},
                                       fields={"plan": json.dumps(attempts)})
        return result.transfer

    def _prepare_whisper(self, record: TransferRecord) -> None:
        """Warm: compute the whisper once (the LLM summariser may be slow; webhooks must not be)."""
        if record.mode != "warm" or record.fields.get("whisper"):
            return
        settings = settings_from_json(record.json_field("settings", {}))
        reason = record.fields.get("reason") or None
        summary = record.fields.get("summary") or ""
        if not summary:
            transcript = record.json_field("context", {}).get("transcript") or []
            if transcript:
                summary = self.summariser.summarise(transcript, reason=reason, prompt=settings.summary_prompt)
        call = self.store.get_call(record.call_sid) or {}
        values = {"caller": call.get("from", "unknown"), "reason": reason or "not given", "summary": summary,
                  **self._variables(record)}
        if settings.whisper:
            whisper = settings.whisper
            for name, value in values.items():
                whisper = whisper.replace(f"<{name}>", str(value)).replace("{" + name + "}", str(value))
        else:
            whisper = "Incoming transfer from the AI assistant."
            if reason:
                whisper += f" Reason: {reason.rstrip('.')}."
            if summary:
                whisper += f" {summary}"
        self.store.transition(record.id, allowed_from="*", event={"event": "whisper-prepared", "text": whisper},
                              fields={"whisper": whisper, "summary": summary})

    def _variables(self, record: TransferRecord) -> dict[str, str]:
        """The call's variables overlaid by the request's (the same precedence routing uses)."""
        return {**self.store.get_call_variables(record.call_sid), **record.json_field("variables", {})}

    def run_dial_attempt(self, transfer_id: str, attempt: int) -> None:
        """Job: dial every target of a warm attempt, and arm its ring timeout."""
        record = self.store.get_transfer(transfer_id)
        if record is None or record.status not in (TransferStatus.DIALING, TransferStatus.REQUESTED) \
                or record.attempt != attempt:
            return
        attempts = record.json_field("plan", [])
        if attempts[attempt].get("dynamic"):
            record = self._resolve_dynamic(record, attempt)
            if record is None:
                return
            attempts = record.json_field("plan", [])
        self._prepare_whisper(record)
        record = self.store.get_transfer(transfer_id)
        settings = settings_from_json(record.json_field("settings", {}))
        targets = [target_from_json(t) for t in attempts[attempt]["targets"]]
        result = self.store.transition(transfer_id, allowed_from=[TransferStatus.DIALING, TransferStatus.REQUESTED],
                                       to="dialing", attempt=attempt, fields={"legs_expected": len(targets)},
                                       event={"event": "dialing", "attempt": attempt,
                                              "targets": [t.describe() for t in targets],
                                              "parallel": attempts[attempt]["parallel"]},
                                       event_id=f"dial-attempt:{attempt}")
        if not result.applied:
            return
        for index, target in enumerate(targets):
            leg = LegRequest(
                to=self._leg_address(target), from_=record.fields.get("caller_id") or "",
                url=self._leg_url(transfer_id, "leg-answer", attempt, settings),
                status_callback=self.urls.transfer(transfer_id, "leg-status", attempt=attempt),
                timeout=settings.timeout, machine_detection=settings.human_detection,
                amd_callback=self.urls.transfer(transfer_id, "leg-amd", attempt=attempt),
                send_digits=target.send_digits, sip_username=target.sip_username, sip_password=target.sip_password)
            try:
                sid = self.gateway.create_leg(leg)
            except GatewayError as exc:
                # Counts as an ended leg, so the attempt fails once every leg has.
                self.store.leg_event(transfer_id, attempt=attempt, leg_sid=f"failed-{attempt}-{index}", state="ended",
                                     outcome=Outcome.CONNECTION_ERROR, detail=f"could not dial: {exc}",
                                     event={"event": "leg-failed", "attempt": attempt, "target": target.describe(),
                                            "error": str(exc), "code": exc.code})
                continue
            self.store.leg_event(transfer_id, attempt=attempt, leg_sid=sid, state="dialed",
                                 event={"event": "leg-dialed", "attempt": attempt, "leg": sid,
                                        "target": target.describe()}, event_id=f"dialed:{sid}")
        self._schedule_ring_timeout(record, attempt)
        # If every leg failed to dial, the attempt is already over: move on.
        self.run_after_attempt(transfer_id, attempt)

    def _leg_url(self, transfer_id: str, name: str, attempt: int, settings: DeliverySettings, *,
                 leg: str | None = None) -> str:
        """A warm-leg callback URL carrying the delivery settings its webhook needs."""
        return self.urls.transfer(transfer_id, name, attempt=attempt, leg=leg, hd=int(settings.human_detection),
                                  dt=settings.detection_timeout, at=settings.accept_timeout,
                                  k=settings.accept_key, d=settings.decline_key)

    def _leg_address(self, target: Target) -> str:
        if target.kind is TargetKind.SIP:
            from .destinations import sip_uri_with_headers
            return sip_uri_with_headers(target)
        return target.address

    def _schedule_ring_timeout(self, record: TransferRecord, attempt: int) -> None:
        settings = settings_from_json(record.json_field("settings", {}))
        self.jobs.schedule("ring_timeout", record.id, attempt, delay=settings.timeout + RING_GRACE,
                           job_id=_timer_id(record.id, attempt, "", "ring"))

    def run_ring_timeout(self, transfer_id: str, attempt: int) -> None:
        """Timer: nobody answered in time (Twilio's own timeout should have fired first)."""
        result = self.store.transition(transfer_id, allowed_from=[TransferStatus.DIALING, TransferStatus.RINGING],
                                       to="fail-attempt", outcome=Outcome.TIMEOUT, detail="ring timeout",
                                       event={"event": "timeout", "stage": "ring", "attempt": attempt},
                                       event_id=f"ring-timeout:{attempt}", attempt=attempt)
        if not result.applied:
            return
        if result.transfer.mode == "cold":
            # Twilio never reported the Dial's end: move the caller on ourselves (next attempt or
            # last resort), so no transfer, and no caller, is ever stuck.
            try:
                self.gateway.redirect_call(result.transfer.call_sid, twiml=self._cold_followup_twiml(result))
            except GatewayError as exc:
                log.info("could not move caller of %s after ring timeout: %s", transfer_id, exc)
            return
        self.run_after_attempt(transfer_id, attempt)

    def run_leg_timeout(self, transfer_id: str, attempt: int, leg_sid: str, stage: str) -> None:
        """Timer: a leg stayed too long in AMD ('answered') or without a key press ('screening')."""
        if stage == "answered":
            # No AMD verdict in time: treat as unknown and let the key press prove a human is there.
            result = self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="human",
                                          require_leg_state="answered",
                                          event={"event": "timeout", "stage": "human-detection", "leg": leg_sid},
                                          event_id=f"detect-timeout:{leg_sid}")
            if result.applied:
                self.run_whisper_leg(transfer_id, attempt, leg_sid)
            return
        result = self.store.leg_event(transfer_id, attempt=attempt, leg_sid=leg_sid, state="ended",
                                      outcome=Outcome.TIMEOUT, detail="no key pressed in time",
                                      require_leg_state="screening",
                                      event={"event": "timeout", "stage": "accept", "leg": leg_sid},
                                      event_id=f"accept-timeout:{leg_sid}")
        if result.verdict in ("applied", "stale"):
            self.run_drop_leg(transfer_id, attempt, leg_sid)
            self.run_after_attempt(transfer_id, attempt)

    def run_whisper_leg(self, transfer_id: str, attempt: int, leg_sid: str) -> None:
        """Job: a human answered a leg: send it to the whisper document."""
        # Queued alongside the AMD transition even when a duplicate callback was refused:
        # act only if this leg is still the human waiting for its whisper.
        _, state = self.store.legs(transfer_id).get(leg_sid, (attempt, ""))
        record = self.store.get_transfer(transfer_id)
        if state != "human" or record is None or record.status.is_finished or record.attempt != attempt:
            return
        try:
            settings = settings_from_json(record.json_field("settings", {}))
            self.gateway.redirect_call_url(leg_sid, url=self._leg_url(transfer_id, "whisper", attempt, settings,
                                                                      leg=leg_sid))
        except GatewayError as exc:  # the leg hung up meanwhile: its status callback ends it
            log.info("whisper redirect for %s failed: %s", leg_sid, exc)

    def run_drop_leg(self, transfer_id: str, attempt: int, leg_sid: str) -> None:
        """Job: hang up one leg (a machine answered, or it timed out)."""
        if leg_sid.startswith("failed-"):
            return
        _, state = self.store.legs(transfer_id).get(leg_sid, (attempt, ""))
        if state == "accepted":
            return    # never hang up the recipient the caller is talking to
        try:
            self.gateway.end_call(leg_sid, ringing=False)
        except GatewayError as exc:
            if not exc.call_is_gone:
                log.warning("could not hang up leg %s: %s", leg_sid, exc)

    def run_end_legs(self, transfer_id: str, keep: str = "") -> None:
        """Job: end every open leg of the transfer except `keep` (the one that accepted)."""
        to_end = [(sid, state in ("dialed", "ringing")) for sid, (_, state) in self.store.legs(transfer_id).items()
                  if sid != keep and state != "ended" and not sid.startswith("failed-")]
        for sid, ringing in to_end:
            try:
                self.gateway.end_call(sid, ringing=ringing)
            except GatewayError as exc:
                if exc.call_is_gone:
                    continue
                try:   # a leg that answered since we looked needs 'completed', not 'canceled'
                    self.gateway.end_call(sid, ringing=not ringing)
                except GatewayError:
                    log.warning("could not end leg %s", sid)
            self.store.leg_event(transfer_id, attempt=self._leg_attempt(transfer_id, sid), leg_sid=sid, state="ended",
                                 outcome=Outcome.CANCELLED, detail="cancelled by Handoff",
                                 event={"event": "leg-ended-by-handoff", "leg": sid}, event_id=f"cancelled:{sid}")

    def _leg_attempt(self, transfer_id: str, leg_sid: str) -> int:
        return self.store.legs(transfer_id).get(leg_sid, (0, ""))[0]

    def run_after_attempt(self, transfer_id: str, attempt: int) -> None:
        """Job: after an attempt failed, dial the next one (after its retry interval) or take the last resort."""
        record = self.store.get_transfer(transfer_id)
        if record is None:
            return
        if record.status is TransferStatus.DIALING and record.attempt > attempt:
            self.run_end_legs(transfer_id)
            if record.mode == "cold":
                return     # cold fallbacks continue in the Dial action's document
            delay = record.json_field("plan", [])[record.attempt].get("delay") or 0
            if delay:
                self.jobs.schedule("dial_attempt", transfer_id, record.attempt, delay=delay,
                                   job_id=f"{self.store.keys.prefix}-dial-{transfer_id}-{record.attempt}")
            else:
                self.run_dial_attempt(transfer_id, record.attempt)
            return
        if record.status is not TransferStatus.COMPLETED or record.outcome is Outcome.SUCCESS:
            return
        if record.mode == "warm":
            self.run_end_legs(transfer_id)
        if not self.store.claim(transfer_id, "last_resort"):
            return    # another worker (or a duplicate job) already took it
        call = self.store.get_call(record.call_sid) or {}
        if record.outcome is Outcome.CANCELLED and (call.get("status") in CALL_ENDED):
            return    # the caller is gone: nobody to return
        if record.mode == "cold" and record.outcome is not Outcome.CANCELLED:
            return    # the Dial action already answered with the last resort
        try:
            self.gateway.redirect_call(record.call_sid, twiml=self._last_resort_twiml(record))
        except GatewayError as exc:
            log.info("could not return caller of %s: %s", transfer_id, exc)

    def run_announce(self, transfer_id: str, conference_sid: str) -> None:
        """Job: play the bridge announcement, if the transfer has one, to both sides, once."""
        record = self.store.get_transfer(transfer_id)
        if record is None or not settings_from_json(record.json_field("settings", {})).announcement:
            return
        if not self.store.claim(transfer_id, "announcement"):
            return
        try:
            self.gateway.announce(conference_sid, announce_url=self.urls.transfer(transfer_id, "announcement"))
        except GatewayError as exc:
            log.info("announcement for %s not played: %s", transfer_id, exc)

    def announcement_twiml(self, transfer_id: str) -> str:
        """The document Twilio plays to the conference when it is announced."""
        record = self.store.get_transfer(transfer_id)
        text = settings_from_json(record.json_field("settings", {})).announcement if record else None
        return twiml.announcement(text=text or "")

    # ------------------------------------------------------------------ documents
    def _cold_twiml(self, record: TransferRecord, attempt: int) -> str:
        attempts = record.json_field("plan", [])
        settings = settings_from_json(record.json_field("settings", {}))
        target = target_from_json(attempts[attempt]["targets"][0])
        message = settings.message if attempt == 0 else None
        if record.fields.get("refer") == "1":
            return twiml.refer(target=target, message=message,
                               action_url=self.urls.transfer(record.id, "refer-action", attempt=attempt))
        return twiml.cold_dial(
            target=target, message=message, pause_seconds=int(attempts[attempt].get("delay") or 0),
            action_url=self.urls.transfer(record.id, "dial-action", attempt=attempt),
            status_callback_url=self.urls.transfer(record.id, "dial-status", attempt=attempt),
            timeout=settings.timeout, caller_id=record.fields.get("caller_id") or None)

    def _caller_conference_twiml(self, record: TransferRecord) -> str:
        settings = settings_from_json(record.json_field("settings", {}))
        silent = settings.hold_silence or not (settings.hold_music_url or settings.hold_message)
        return twiml.caller_conference(
            room=_room(record.id), announcement=settings.message or "Please hold while I connect you.",
            wait_url="" if silent and settings.hold_silence else self.urls.transfer(record.id, "hold"),
            action_url=self.urls.transfer(record.id, "caller-left"),
            status_callback_url=self.urls.transfer(record.id, "conference"))

    def _agent_handoff_twiml(self, record: TransferRecord, target: Target) -> str:
        agent = AgentConnection.parse(target.address, variable="recipient address")
        context = record.json_field("context", {})
        parameters = {"handoff_transfer_id": record.id, "handoff_reason": record.fields.get("reason"),
                      "handoff_summary": record.fields.get("summary"),
                      "handoff_variables": record.fields.get("variables"),
                      "handoff_context_url": f"{self.urls.base}/api/transfers/{record.id}/context",
                      "handoff_transcript": json.dumps(context.get("transcript"))[:4000]
                      if context.get("transcript") else None}
        return twiml.agent_connect(kind=agent.kind, url=agent.url, action_url=self.urls.agent_ended(),
                                   parameters=parameters, message=record.fields.get("message") or None)

    def _agent_twiml(self, call_sid: str, *, outcome: str, detail: str, transfer_id: str,
                     reason: str | None = None) -> str:
        """Back to the AI agent, telling it how the transfer went (and why it was asked for)."""
        return twiml.agent_connect(kind=self.agent.kind, url=self.agent.url, action_url=self.urls.agent_ended(),
                                   parameters={"call_sid": call_sid, "transfer_outcome": outcome,
                                               "transfer_detail": detail, "transfer_id": transfer_id,
                                               "transfer_reason": reason})

    def _ended_twiml(self, record: TransferRecord) -> str:
        """The caller's next document once a transfer is over (cold Dial or warm conference ended).

        After a bridge: nothing more for a final transfer, the agent again for a temporary one.
        After a failure: the last resort."""
        if record.outcome is not Outcome.SUCCESS:
            return self._last_resort_twiml(record)
        if record.final:
            return twiml.hangup()
        self.store.append_event(record.id, {"event": "returned-to-agent", "after": "recipient hung up"})
        return self._agent_twiml(record.call_sid, outcome=Outcome.SUCCESS.value, detail="recipient hung up",
                                 transfer_id=record.id)

    def _last_resort_twiml(self, record: TransferRecord) -> str:
        settings = settings_from_json(record.json_field("settings", {}))
        outcome = record.outcome.value if record.outcome else Outcome.CONNECTION_ERROR.value
        detail = record.fields.get("outcome_detail", "")
        # TRANSFER_FAIL_MESSAGE makes "say a message and hang up" the deployment's default last resort.
        if settings.last_resort is LastResort.MESSAGE or (settings.last_resort.is_agent and self.fail_message):
            return twiml.say_and_hangup(message=settings.last_resort_message or self.fail_message or
                                        "Sorry, nobody is available to take your call. Goodbye.")
        if settings.last_resort is LastResort.VOICEMAIL:
            return twiml.take_voicemail(prompt=settings.last_resort_message or
                                        "Nobody is available right now. Please leave a message after the tone.",
                                        action_url=self.urls.transfer(record.id, "voicemail"))
        self.store.append_event(record.id, {"event": "returned-to-agent", "outcome": outcome})
        return self._agent_twiml(record.call_sid, outcome=outcome, detail=detail, transfer_id=record.id,
                                 reason=record.fields.get("reason") or None)


def _leg_status_event(route: str, attempt: int, leg_sid: str, call_status: str) -> tuple[str, dict]:
    """The dedupe id and timeline event of a leg's status callback."""
    return (f"{route}:{leg_sid}:{call_status}",
            {"event": f"leg-{call_status}", "attempt": attempt, "leg": leg_sid})


def _unwanted_leg_twiml(result: TransitionResult) -> str | None:
    """What a leg hears when it is no longer wanted (another leg accepted, or the transfer moved on)."""
    record = result.transfer
    if record is None or result.verdict == "stale" or record.status.is_finished:
        return twiml.hangup()
    if record.status is TransferStatus.BRIDGED:
        return twiml.taken_elsewhere()
    return None


def _room(transfer_id: str) -> str:
    return f"handoff-{transfer_id}"


def _timer_id(transfer_id: str, attempt: int, leg: str, stage: str) -> str:
    return f"handoff-timer-{transfer_id}-{attempt}-{leg or 'all'}-{stage}"


def _describe(attempt: Mapping) -> str:
    if attempt.get("dynamic"):
        return f"dynamic:{attempt['dynamic']}"
    targets = [target_from_json(t).describe() for t in attempt.get("targets", [])]
    return ", ".join(targets)




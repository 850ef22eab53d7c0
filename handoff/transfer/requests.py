"""A request to transfer a call, validated and planned; then handed to the lifecycle to start."""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import asdict, replace
from datetime import datetime
from typing import Mapping

from ..placeholders import fill, runtime_values
from ..destinations import DestinationError, parse_e164, parse_raw_target
from ..record import Attempt, Transfer, expand_plan, settings_to_json
from ..state import CALL_ENDED, TransferMode, TransferStatus
from ..store import utc_now_iso
from ..targets import LastResort, Plan, Step, TargetKind
from ..texts import texts_flag
from ..transfer_request import TransferRequest
from .caller_ids import agent_number, caller_number
from .context import Context
from .lifecycle import Lifecycle, nobody_detail

log = logging.getLogger("handoff.requests")
LOCAL_ONLY = "at: only in local mode (HANDOFF_LOCAL=1)"


class TransferRefused(Exception):
    """The request cannot become a transfer; `field` names the offending input (422)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


class TransferConflict(Exception):
    """Another transfer is in flight on the call, or the call is over (409)."""

    def __init__(self, message: str, *, transfer_id: str | None = None, call_status: str | None = None):
        super().__init__(message)
        self.transfer_id = transfer_id
        self.call_status = call_status


class ChainLimitReached(TransferConflict):
    """The call has been through TRANSFER_CHAIN_LIMIT transfers already (409): the caller stays where they are."""

    def __init__(self, *, limit: int, transfers: int, transfer_id: str | None):
        super().__init__(f"this call has been through {transfers} transfers, the most one call may have "
                         f"(TRANSFER_CHAIN_LIMIT={limit})", transfer_id=transfer_id)
        self.limit = limit
        self.transfers = transfers


class UnknownCall(Exception):
    """The call SID is not one Handoff has seen (404)."""


class IdempotencyMismatch(Exception):
    """An Idempotency-Key reused with a different request (422, as payment APIs answer)."""


def fingerprint(request: TransferRequest) -> str:
    """A digest of everything the request asks for (an Idempotency-Key replay must match it)."""
    data = asdict(request)
    if data["at"] is None:
        del data["at"]    # digests of requests without `at` stay what they were before it existed
    if data.get("card") is None:
        data.pop("card", None)    # likewise without `card`
    if not data.get("sms"):
        data.pop("sms", None)     # and without `sms`
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _new_id() -> str:
    return "tr_" + secrets.token_hex(12)


class Requests:
    """Validation, routing and idempotency for every way a transfer is asked for (API, tool, HandoffData)."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle):
        self.ctx = ctx
        self.store = ctx.store
        self.lifecycle = lifecycle

    def submit(self, call_sid: str, request: TransferRequest, *, idempotency_key: str | None = None,
               via: str = "api") -> tuple[Transfer, bool]:
        """Validate and store a transfer, and queue its start; returns (transfer, created)."""
        fields, idem, digest = self.prepare(call_sid, request, idempotency_key=idempotency_key, via=via)
        if isinstance(fields, Transfer):
            return fields, False
        batch = self.store.batch()
        self.lifecycle.start(fields, event=self.requested_event(request, fields, via), idempotency_key=idem,
                             fingerprint=digest, batch=batch)
        created = self.store.execute(batch)[0]
        self._check(created, call_sid, to=request.to, via=via)
        if created.verdict == "idempotent":
            return self.store.get_transfer(created.detail), False
        t = Transfer.parse({name: str(value) for name, value in fields.items()})
        log.info(json.dumps({"event": "transfer-requested", "transfer": t.id, "call": call_sid,
                             "mode": t.mode.value, "to": request.to, "via": via}))
        return t, True

    def prepare(self, call_sid: str, request: TransferRequest, *, idempotency_key: str | None, via: str):
        """Everything up to storing: (fields | the earlier transfer, scoped key, fingerprint)."""
        if request.at is not None and not self.ctx.local_mode:
            # A testing knob: production routes by the real clock, whatever a request says.
            raise TransferRefused("at", LOCAL_ONLY)
        idem = f"{call_sid}:{idempotency_key}" if idempotency_key else None
        digest = fingerprint(request)
        call, active, variables, earlier, chain = self.store.call_context(call_sid, idempotency_key=idem)
        if earlier.get("id"):
            # A retry must not be refused by validation that has since changed: answer it first.
            if earlier.get("fingerprint") != digest:
                raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
            previous = self.store.get_transfer(earlier["id"])
            if previous is not None:
                return previous, idem, digest
        if call is None:
            raise UnknownCall(call_sid)
        if call.get("status") in CALL_ENDED:
            raise TransferConflict(f"the call has ended ({call['status']})", call_status=call["status"])
        # Answer "one is already in flight" before routing: a routing refusal must not hide the 409.
        if active:
            raise TransferConflict(f"transfer {active} is already in flight on this call", transfer_id=active)
        if chain.length >= self.store.chain_limit:
            # Answered before routing, as the 409 above; create.lua decides it again, atomically (and records
            # what it refuses itself: this write is the refusal's one round trip, as the transfer's would be).
            if chain.last_id:
                self.store.chain_refused(chain.last_id, call_sid, transfers=chain.length, to=request.to, via=via)
            raise self.chain_limit(call_sid, chain.last_id, chain.length, to=request.to, via=via)
        fields = self._fields(call_sid, call, request, via=via, call_variables=variables)
        # The transfer's place in the call's chain (create.lua sets both again: what it sees is the truth).
        fields.update(previous_id=chain.last_id, chain_index=chain.length + 1)
        return fields, idem, digest

    def chain_limit(self, call_sid: str, last_id: str, transfers: int, *, to: str, via: str) -> ChainLimitReached:
        """A request beyond TRANSFER_CHAIN_LIMIT, already recorded and counted (Store.chain_refused or create.lua):
        logged, and the answer to raise."""
        log.warning(json.dumps({"event": "chain-limit-reached", "call": call_sid, "transfer": last_id,
                                "transfers": transfers, "limit": self.store.chain_limit, "to": to, "via": via}))
        return ChainLimitReached(limit=self.store.chain_limit, transfers=transfers, transfer_id=last_id or None)

    def _check(self, created, call_sid: str, *, to: str = "", via: str = "api") -> None:
        if created.verdict == "idempotency-mismatch":
            raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
        if created.verdict == "conflict":
            raise TransferConflict(f"transfer {created.detail} is already in flight on this call",
                                   transfer_id=created.detail)
        if created.verdict == "call-ended":
            raise TransferConflict(f"the call has ended ({created.detail})", call_status=created.detail)
        if created.verdict == "chain-limit":
            raise self.chain_limit(call_sid, created.detail, int(created.chain or 0), to=to, via=via)
        if created.verdict == "no-call":
            raise UnknownCall(call_sid)

    @staticmethod
    def requested_event(request: TransferRequest, fields: Mapping, via: str) -> dict:
        """The transfer's first event (with the time its routing ran at, when that was not the real clock)."""
        event = {"event": "requested", "to": request.to, "mode": fields["mode"], "via": via, "reason": request.reason}
        if fields.get("clock_at"):
            event["clock_at"] = fields["clock_at"]   # not "at": every event's own time goes by that name
        return event

    def _instant(self, request: TransferRequest) -> tuple[datetime, str]:
        """When routing runs for this request, and what to store of it ('' = real time, nothing to keep)."""
        if request.at is not None:
            return request.at, request.at.isoformat()
        now = self.ctx.clock.now()
        return now, "" if self.ctx.clock.is_real else now.isoformat()

    # ------------------------------------------------------------------ planning
    def _plan(self, call: Mapping[str, str], request: TransferRequest, call_variables: Mapping[str, str],
              now: datetime) -> Plan:
        router = self.ctx.router()
        variables = {str(k): str(v) for k, v in (request.variables or {}).items()}
        if router is not None:
            from ..routing import RoutingError   # routing is optional until configured

            call_variables = {"caller": call.get("from", ""), "from": call.get("from", ""),
                              "to": call.get("to", ""), **call_variables}
            try:
                return router.plan(request.to, variables=variables, call_variables=call_variables,
                                   now=now, mode=request.mode)
            except RoutingError as exc:
                raise TransferRefused(getattr(exc, "field", None) or "to", getattr(exc, "message", str(exc)))
        try:
            target = parse_raw_target(request.to, self.ctx.allow_list)
        except DestinationError as exc:
            raise TransferRefused("to", exc.reason) from None
        return Plan(steps=(Step(targets=(target,)),), reasons=("raw number on the allow-list",))

    def _fields(self, call_sid: str, call: Mapping[str, str], request: TransferRequest, *, via: str,
                call_variables: Mapping[str, str]) -> dict:
        instant, clock_at = self._instant(request)
        plan = self._plan(call, request, call_variables, instant)
        settings = plan.settings
        mode = TransferMode(request.mode or settings.mode or "cold")
        overrides: dict = {"mode": mode.value}
        if request.message is not None:
            overrides["message"] = request.message
        if request.timeout is not None:
            overrides["timeout"] = request.timeout
        if request.caller_id is not None:
            overrides["caller_id"] = request.caller_id
        if request.card is not None:
            overrides["card"] = request.card
        settings = replace(settings, **overrides)
        # The request's texts to the caller win over the recipient's (handoff/texts.py).
        settings = replace(settings, **{f"sms_{k}": v for k, v in (request.sms or {}).items()})
        # The request's explicit timeout, caller ID and card hold for every attempt; the rest is each step's own.
        attempts = expand_plan(plan, {k: overrides[k] for k in ("timeout", "caller_id", "card") if k in overrides})
        if settings.message:
            # The caller hears it first: its placeholders are filled now, from what the request knows.
            recipient = next((t.recipient for a in attempts[:1] for t in a.targets if t.recipient), None)
            settings = replace(settings, message=fill(settings.message, runtime_values(
                call=call, call_sid=call_sid, reason=request.reason, summary=request.summary,
                variables=request.variables, call_variables=call_variables, recipient=recipient,
                transcript=(request.context or {}).get("transcript"))))
        kinds = {t.kind for a in attempts for t in a.targets}
        if request.refer:
            if call.get("sip") != "1":
                raise TransferRefused("refer", "SIP REFER is only possible on a call that arrived over SIP")
            if not mode.is_cold:
                raise TransferRefused("refer", "SIP REFER is a cold transfer; use mode 'cold'")
            if kinds - {TargetKind.NUMBER, TargetKind.SIP} or any(a.dynamic for a in attempts):
                raise TransferRefused("refer", "SIP REFER reaches only numbers and SIP URIs")
        if not attempts and settings.last_resort is not LastResort.CALLBACK:
            # Routing found nobody to dial (closed hours, a rule whose fallback is the last resort):
            # the agent keeps the caller and can say why. With a callback to offer, the transfer is
            # stored and ends at once (Lifecycle.start), and the caller hears the offer.
            raise TransferRefused("to", nobody_detail(plan.reasons))
        if mode.is_agent and kinds - {TargetKind.AGENT}:
            raise TransferRefused("to", "an agent hand-off needs a recipient of type 'agent'")
        if not mode.is_agent and TargetKind.AGENT in kinds:
            raise TransferRefused("mode", "this recipient is an AI agent: use mode 'agent'")
        if mode.is_cold and any(a.parallel for a in attempts):
            raise TransferRefused("mode", "a parallel group needs a warm transfer (the first to accept wins)")
        # A policy that cannot be honoured (the caller's number on a SIP/client call) says so in the reasons.
        reasons = list(plan.reasons)
        notes = None if request.refer else reasons
        caller_id = self._caller_id(call, settings.caller_id, notes) or ""
        attempts = [self._own_caller_id(call, a, caller_id, notes) for a in attempts]
        now = utc_now_iso()
        return {
            "id": _new_id(), "call_sid": call_sid, "mode": mode.value, "status": TransferStatus.REQUESTED.value,
            "attempt": 0, "attempts_total": len(attempts), "plan": json.dumps([a.to_json() for a in attempts]),
            "delays": json.dumps([a.delay for a in attempts]), "caller": "agent",
            "settings": json.dumps(settings_to_json(settings)), "to": request.to, "reason": request.reason or "",
            "summary": request.summary or "", "message": settings.message or "",
            "variables": json.dumps(dict(request.variables or {})), "final": "1" if request.final else "0",
            "caller_id": caller_id, "refer": "1" if request.refer else "0",
            "context": json.dumps(dict(request.context or {})), "via": via, "created_at": now, "updated_at": now,
            "legs_expected": 0, "reasons": json.dumps(reasons), "rule": plan.rule or "",
            **({"clock_at": clock_at} if clock_at else {}),
            "texts": texts_flag(settings),     # the caller's texts due (lua/common.lua decide reports it)
            # Some attempt may text its recipient a hand-off card: the bridge's event says so (handoff/cards.py).
            "cards": "1" if any(dict(a.delivery).get("card", settings.card) for a in attempts) else "",
        }

    def _own_caller_id(self, call: Mapping[str, str], attempt: Attempt, caller_id: str,
                       notes: list[str] | None) -> Attempt:
        """An attempt whose step has its own caller ID policy, with the number it resolves to."""
        policy = dict(attempt.delivery).get("caller_id")
        own = caller_id if policy is None else self._caller_id(call, policy, notes) or ""
        return attempt if own == caller_id else replace(attempt, caller_id=own)

    def _caller_id(self, call: Mapping[str, str], policy: str | None, notes: list[str] | None = None) -> str | None:
        policy = (policy or "agent").strip()
        if policy == "agent":
            return agent_number(self.ctx.caller_id, call)
        if policy == "caller":
            number, why = caller_number(self.ctx.caller_id, call)
            if why and notes is not None and why not in notes:
                notes.append(why)
            return number
        try:
            number = parse_e164(policy)
        except DestinationError:
            raise TransferRefused("caller_id", "must be 'agent', 'caller' or an E.164 number") from None
        # Caller ID spoofing is refused: only numbers this call or the deployment already owns.
        if number not in {call.get("to"), call.get("from"), self.ctx.caller_id}:
            raise TransferRefused("caller_id", "must be the agent's number, the caller's, or TRANSFER_CALLER_ID")
        return number

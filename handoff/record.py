"""A transfer as stored, decoded once into typed fields, and the plan's (de)serialisation."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any, Mapping

from .state import CallerAt, DeadlineKind, Outcome, TransferMode, TransferStatus
from .targets import DeliverySettings, LastResort, Plan, Step, Target, TargetKind


def target_to_json(target: Target) -> dict:
    data = asdict(target)
    data["kind"] = target.kind.value
    data["sip_headers"] = [list(pair) for pair in target.sip_headers]
    return data


def target_from_json(data: Mapping) -> Target:
    return Target(kind=TargetKind(data["kind"]), address=data["address"], recipient=data.get("recipient"),
                  send_digits=data.get("send_digits"), sip_headers=tuple(tuple(p) for p in data.get("sip_headers", ())),
                  sip_username=data.get("sip_username"), sip_password=data.get("sip_password"))


def settings_to_json(settings: DeliverySettings) -> dict:
    data = asdict(settings)
    data["last_resort"] = settings.last_resort.value
    return data


def settings_from_json(data: Mapping) -> DeliverySettings:
    data = dict(data)
    data["last_resort"] = LastResort(data.get("last_resort", "agent"))
    known = DeliverySettings.__dataclass_fields__
    return DeliverySettings(**{k: v for k, v in data.items() if k in known})


# What a step may set for itself (its recipient's own delivery); the rest is the transfer's.
LEG_SETTINGS = ("mode", "timeout", "human_detection", "detection_timeout", "detection_speech_threshold",
                "detection_speech_end_threshold", "detection_silence_timeout", "accept_timeout", "accept_key",
                "decline_key", "caller_id", "whisper", "summary_prompt", "announcement",
                "card", "card_to")   # the hand-off card goes to the recipient of the attempt that was accepted


@dataclass(frozen=True)
class Attempt:
    """One numbered attempt of a plan: a step's try, rung alone or in parallel."""

    step: int
    try_no: int
    targets: tuple[Target, ...]
    parallel: bool = False
    dynamic: str | None = None     # a dynamic recipient still to be resolved (by a worker)
    delay: float = 0.0             # seconds to wait before dialing it (a retry's interval)
    delivery: tuple[tuple[str, Any], ...] = ()   # its LEG_SETTINGS that differ from the transfer's
    caller_id: str | None = None   # the From of its legs, when not the transfer's

    def to_json(self) -> dict:
        data = {"step": self.step, "try": self.try_no, "parallel": self.parallel, "dynamic": self.dynamic,
                "delay": self.delay, "targets": [target_to_json(t) for t in self.targets]}
        if self.delivery:
            data["delivery"] = dict(self.delivery)
        if self.caller_id is not None:
            data["caller_id"] = self.caller_id
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> "Attempt":
        # plans stored before steps had their own delivery have neither key: the transfer's settings
        delivery = data.get("delivery") or {}
        return cls(step=int(data.get("step", 0)), try_no=int(data.get("try", 0)),
                   targets=tuple(target_from_json(t) for t in data.get("targets", ())),
                   parallel=bool(data.get("parallel")), dynamic=data.get("dynamic") or None,
                   delay=float(data.get("delay") or 0),
                   delivery=tuple((k, v) for k, v in delivery.items() if k in LEG_SETTINGS),
                   caller_id=data.get("caller_id"))

    def describe(self) -> str:
        if self.dynamic:
            return f"dynamic:{self.dynamic}"
        return ", ".join(t.describe() for t in self.targets)


def expand_plan(plan: Plan, overrides: Mapping[str, Any] | None = None) -> list[Attempt]:
    """Flatten a plan into numbered attempts: each retry of a step is an attempt of its own.

    `overrides` (the request's explicit settings) win over every step's own."""
    overrides = dict(overrides or {})
    base = replace(plan.settings, **overrides)

    def delivery(step: Step) -> tuple[tuple[str, Any], ...]:
        if step.settings is None:
            return ()
        own = replace(step.settings, **overrides)
        return tuple((k, getattr(own, k)) for k in LEG_SETTINGS if getattr(own, k) != getattr(base, k))

    return [Attempt(step=index, try_no=try_no, targets=step.targets, parallel=step.parallel, dynamic=step.dynamic,
                    delay=step.retry_interval if try_no else 0.0, delivery=delivery(step))
            for index, step in enumerate(plan.steps) for try_no in range(1 + max(0, step.retries))]


def _json(fields: Mapping[str, str], name: str, default: Any) -> Any:
    value = fields.get(name)
    return json.loads(value) if value else default


@dataclass(frozen=True)
class Transfer:
    """Every field of a stored transfer, typed; built once per read (Transfer.parse)."""

    id: str
    call_sid: str
    mode: TransferMode
    status: TransferStatus
    outcome: Outcome | None
    outcome_detail: str
    attempt: int
    attempts: tuple[Attempt, ...]
    settings: DeliverySettings
    caller: CallerAt
    final: bool
    refer: bool
    to: str
    reason: str
    summary: str
    message: str
    whisper: str
    caller_id: str
    via: str
    bridged_leg: str
    deadline_kind: DeadlineKind | None
    deadline_at: float | None
    deadline_seq: int
    fields: Mapping[str, str] = field(repr=False)

    @classmethod
    def parse(cls, fields: Mapping[str, str]) -> "Transfer":
        f = fields
        kind = f.get("dl_kind")
        return cls(
            id=f["id"], call_sid=f["call_sid"], mode=TransferMode(f.get("mode", "cold")),
            status=TransferStatus(f["status"]), outcome=Outcome(f["outcome"]) if f.get("outcome") else None,
            outcome_detail=f.get("outcome_detail", ""), attempt=int(f.get("attempt", "0")),
            attempts=tuple(Attempt.from_json(a) for a in _json(f, "plan", [])),
            settings=settings_from_json(_json(f, "settings", {})), caller=CallerAt(f.get("caller") or "agent"),
            final=f.get("final", "1") == "1", refer=f.get("refer") == "1", to=f.get("to", ""),
            reason=f.get("reason", ""), summary=f.get("summary", ""), message=f.get("message", ""),
            whisper=f.get("whisper", ""), caller_id=f.get("caller_id", ""), via=f.get("via", "api"),
            bridged_leg=f.get("bridged_leg", ""), deadline_kind=DeadlineKind(kind) if kind else None,
            deadline_at=float(f["dl_at"]) if f.get("dl_at") else None, deadline_seq=int(f.get("dl_seq") or 0),
            fields=dict(f))

    # Decoded on first use: most webhooks never read them, and `context` holds the transcript.
    @cached_property
    def variables(self) -> dict[str, str]:
        """The transfer's own variables (the request's)."""
        return _json(self.fields, "variables", {})

    @cached_property
    def context(self) -> dict:
        """The hand-off's context (transcript and the like)."""
        return _json(self.fields, "context", {})

    @property
    def current(self) -> Attempt:
        """The attempt the transfer is on."""
        return self.attempts[min(self.attempt, len(self.attempts) - 1)]

    def settings_for(self, attempt: Attempt) -> DeliverySettings:
        """The delivery settings an attempt's legs use: the transfer's, with the attempt's own."""
        return replace(self.settings, **dict(attempt.delivery)) if attempt.delivery else self.settings

    @property
    def leg_settings(self) -> DeliverySettings:
        """The current attempt's delivery settings."""
        return self.settings_for(self.current) if self.attempts else self.settings

    @property
    def leg_caller_id(self) -> str:
        """The From of the current attempt's legs ('' = none: Twilio's default)."""
        own = self.current.caller_id if self.attempts else None
        return self.caller_id if own is None else own

    @property
    def direct(self) -> bool:
        """A warm transfer's attempt whose recipient takes calls cold (a voicemail box): bridged on answer,
        with no detection, consent prompt or whisper."""
        return self.mode is TransferMode.WARM and self.leg_settings.mode == "cold"

"""How transfers are stored and shown: plan and settings (de)serialisation, the API view, HandoffData."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Mapping, Sequence

from .store import TransferRecord
from .targets import DeliverySettings, LastResort, Plan, Target, TargetKind
from .transfer_request import TransferRequest


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


def expand_plan(plan: Plan) -> list[dict]:
    """Flatten a plan into numbered attempts: each retry of a step is an attempt of its own."""
    attempts = []
    for index, step in enumerate(plan.steps):
        for try_no in range(1 + max(0, step.retries)):
            attempts.append({"step": index, "try": try_no, "parallel": step.parallel, "dynamic": step.dynamic,
                             "delay": step.retry_interval if try_no else 0.0,
                             "targets": [target_to_json(t) for t in step.targets]})
    return attempts


def parse_handoff_data(raw: str | None) -> TransferRequest | None:
    """Read a transfer request from ConversationRelay's HandoffData (JSON), if it asks for one."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    spec = data.get("transfer") if isinstance(data.get("transfer"), dict) else data
    to = spec.get("to") or spec.get("destination")
    if not to:
        return None
    variables = spec.get("variables") if isinstance(spec.get("variables"), dict) else {}
    context = {"transcript": spec.get("transcript") or data.get("transcript") or []}
    return TransferRequest(to=str(to), mode=spec.get("mode"), message=spec.get("message"),
                           reason=spec.get("reason") or data.get("reason"), summary=spec.get("summary"),
                           variables={str(k): str(v) for k, v in variables.items()},
                           final=bool(spec.get("final", True)), refer=bool(spec.get("refer", False)),
                           context=context)


def present_transfer(record: TransferRecord, timeline: Sequence[Mapping]) -> dict:
    """JSON view of a transfer for the API (SIP passwords never leave Redis)."""
    attempts = record.json_field("plan", [])
    for attempt in attempts:
        for target in attempt.get("targets", []):
            if target.get("sip_password"):
                target["sip_password"] = "***"
    f = record.fields
    return {
        "id": record.id, "call_sid": record.call_sid, "mode": record.mode, "status": record.status.value,
        "outcome": record.outcome.value if record.outcome else None, "outcome_detail": f.get("outcome_detail") or None,
        "to": f.get("to"), "reason": f.get("reason") or None, "final": record.final,
        "attempt": record.attempt, "attempts": attempts, "caller_id": f.get("caller_id") or None,
        "created_at": f.get("created_at"), "finished_at": f.get("finished_at") or None,
        "routing": json.loads(f.get("reasons") or "[]"), "timeline": list(timeline),
    }

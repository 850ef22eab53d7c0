"""Explain: where a transfer would go and why, without dialing anything."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from .errors import RoutingError
from .router import _now


def settings_dict(settings) -> dict:
    out = {}
    for f in dataclasses.fields(settings):
        v = getattr(settings, f.name)
        out[f.name] = v.value if isinstance(v, Enum) else v
    return out


def step_dict(i: int, step) -> dict:
    return {
        "order": i + 1,
        "parallel": step.parallel,
        "retries": step.retries,
        "retry_interval": step.retry_interval,
        "dynamic": step.dynamic,
        "targets": [
            {"recipient": t.recipient, "kind": t.kind.value, "address": t.address,
             "send_digits": t.send_digits, "sip_headers": dict(t.sip_headers),
             "sip_auth": bool(t.sip_username)}
            for t in step.targets
        ],
    }


def explain(router, *, variables: Mapping, call_variables: Mapping = {}, now: datetime | None = None,
            to: str = "auto") -> dict:
    """JSON-serialisable account of routing `to` with these variables at `now`.

    Keys: to, at, ok, error ({field, message} or None), variables ({name: {value, source}}),
    rules (one trace per rule when to == "auto": matched, selected, conditions, during, why),
    selected_rule, recipients (in the order a transfer would reach them; skipped ones carry
    "skipped"), steps, settings, last_resort, reasons.
    """
    out: dict = {}
    result = {"to": to, "at": now.isoformat() if now else None, "ok": True, "error": None}
    plan = None
    try:
        result["at"] = _now(now).isoformat()
        plan, _ = router._plan(to, variables, call_variables, now, None, out=out)
    except RoutingError as exc:
        result.update(ok=False, error=exc.as_dict())
    build, traces, scope = out.get("build"), out.get("traces", []), out.get("scope")
    result["variables"] = scope.explain() if scope else {}
    result["rules"] = traces
    result["selected_rule"] = next((t["rule"] for t in traces if t.get("selected")), None)
    if to in router._rules:
        result["selected_rule"] = to
    result["recipients"] = build.reached if build else []
    result["steps"] = [step_dict(i, s) for i, s in enumerate(plan.steps)] if plan else []
    result["settings"] = settings_dict(plan.settings) if plan else None
    result["last_resort"] = plan.settings.last_resort.value if plan else None
    result["reasons"] = list(plan.reasons) if plan else (list(build.reasons) if build else [])
    if plan and not plan.steps:
        result["reasons"].append(f"nobody is dialed: the call goes straight to the last resort "
                                 f"({plan.settings.last_resort.value})")
    return result

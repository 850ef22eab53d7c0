"""Evaluating routing rules against variables and the clock, keeping a trace for explain."""
from __future__ import annotations

from datetime import datetime

from .model import Rule
from .variables import Scope


def evaluate_rule(rule: Rule, scope: Scope, now: datetime) -> dict:
    """Test a rule's conditions and time window. Returns a JSON-serialisable trace:

    {"rule", "to", "matched", "conditions": [{"test", "variable", "op", "expected", "actual",
    "source", "ok"}], "during": {...} | None, "why": "..."}
    """
    conditions = []
    for cond in rule.conditions:
        actual, source = scope.lookup(cond.variable)
        ok = cond.test(actual)
        conditions.append({"test": cond.label(), "variable": cond.variable, "op": cond.op,
                           "expected": cond.expected(), "actual": actual, "source": source, "ok": ok})
    during = rule.during.check(now).as_dict() if rule.during else None
    failed = [c for c in conditions if not c["ok"]]
    if failed:
        why = "; ".join(
            f"{c['test']} is false ({c['variable']} = {c['actual']!r})" if c["actual"] is not None
            else f"{c['test']} is false ({c['variable']} is not set)" for c in failed)
        matched = False
    elif during and not during["open"]:
        why = f"outside its time window ({during['reason']})"
        matched = False
    else:
        parts = [f"{c['test']} ({c['variable']} = {c['actual']!r} from {c['source']})"
                 if c["actual"] is not None else c["test"] for c in conditions]
        if during:
            parts.append(f"inside its time window ({during['reason']})")
        why = "; ".join(parts) if parts else "no conditions (always matches)"
        matched = True
    return {"rule": rule.name, "to": rule.to, "matched": matched, "conditions": conditions,
            "during": during, "why": why}

"""What the runner prints: a table (scenario, expected, actual, time, result), and under it, for each
scenario that did not pass, why: the expectations not met, the transfer's event timeline and what
each party heard."""
from __future__ import annotations

import os
from datetime import datetime

from .drive import Result
from .expect import show_heard, show_path, show_steps
from .files import display

STANDARD = ("id", "event", "at", "transfer_id", "call_sid", "attempt", "leg")
EVIDENCE = ("dial_status", "call_status", "sip_code", "answered_by", "error_code", "refer_status", "digits")
WIDTH = {"scenario": 60, "expected": 44, "actual": 44}


def _short(outcome: str | None) -> str:
    """An outcome without its `transfer-` prefix: the table has little room."""
    return (outcome or "").removeprefix("transfer-")


def expected_words(result: Result) -> str:
    expect = result.scenario.expect
    refused = expect.get("refused")
    words = ["refused" + (f" {refused!r}" if isinstance(refused, str) else "")] if refused else []
    words.append(_short(expect.get("outcome")))
    if "path" in expect:
        words.append(show_path(expect["path"]))
    if "caller_ends" in expect:
        words.append(f"-> {expect['caller_ends']}")
    return " ".join(w for w in words if w) or "(see expect)"


def actual_words(result: Result) -> str:
    if result.error:
        return f"error: {result.error}"
    seen = result.seen
    if seen.refusal is not None:
        words = [f"refused: {seen.refusal.message}"]
    else:
        words = [_short(seen.outcome) or "no outcome"]
    if seen.refusal is None and ("path" in result.scenario.expect or seen.outcome is None):
        words.append(show_steps(seen.path()))
    if "caller_ends" in result.scenario.expect:
        labels, where = seen.caller_end()
        wanted = result.scenario.expect["caller_ends"]
        words.append(f"-> {wanted if wanted in labels else where}")
    return " ".join(words)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_labels(results: list[Result]) -> list[str]:
    """`billing.yaml: closed on Sunday`: each file relative to the directory all the files share."""
    parents = {str(r.scenario.file.parent) for r in results}
    common = os.path.commonpath(sorted(parents)) if parents else ""
    return [f"{os.path.relpath(r.scenario.file, common)}: {r.scenario.name}" for r in results]


def table(results: list[Result]) -> str:
    """One row per scenario, and a last line counting them."""
    rows = [("scenario", "expected", "actual", "time", "result")]
    for r, label in zip(results, short_labels(results)):
        rows.append((_cut(label, WIDTH["scenario"]), _cut(expected_words(r), WIDTH["expected"]),
                     _cut(actual_words(r), WIDTH["actual"]), f"{r.seconds:.1f} s",
                     "PASS" if r.passed else "ERROR" if r.error else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    passed = sum(r.passed for r in results)
    failed = sum(r.status == "fail" for r in results)
    errors = sum(r.status == "error" for r in results)
    lines.append(f"\n{passed} passed, {failed} failed, {errors} errors "
                 f"({len(results)} scenario{'s' if len(results) != 1 else ''})")
    return "\n".join(lines)


def _offset(at: str | None, first: datetime | None) -> str:
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return "        "
    return f"+{(moment - first).total_seconds():7.3f} s" if first else "        "


def _value(value) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = " ".join(text.split())
    return repr(text) if " " in text and len(text) < 70 else _cut(text, 70)


def timeline(result: Result) -> list[str]:
    """The transfer's events: time offset, event, recipient (leg), Twilio's evidence, then the rest."""
    seen = result.seen
    events = seen.events if seen else []
    if seen is not None and seen.refusal is not None:
        said = str(seen.refusal)
        lines = [] if any(said in failure for failure in result.failures) else [f"  refused: {said}"]
        return lines + ([f"  the tool's sentence: {seen.refusal.sentence}"] if seen.refusal.sentence else [])
    if not events:
        return ["  timeline: no transfer events"]
    try:
        first = datetime.fromisoformat(events[0]["at"])
    except (KeyError, TypeError, ValueError):
        first = None
    by_leg = {leg.sid: leg.label for leg in seen.legs}
    transfer = seen.transfer or {}
    head = f"  timeline of {transfer.get('id')} (to {transfer.get('to')}, mode {transfer.get('mode')}"
    head += f", rule {transfer['rule']}" if transfer.get("rule") else ""
    head += f", routed at {transfer['at']}" if transfer.get("at") else ""
    lines = [head + "):"]
    for reason in transfer.get("routing") or []:
        lines.append(f"    routing: {reason}")
    for event in events:
        leg = event.get("leg")
        who = by_leg.get(leg) or ("caller" if leg and leg == event.get("call_sid") else "")
        if leg:
            who = f"{who or '?'} ({leg[:10]}…)"
        evidence = [f"{k}={event[k]}" for k in EVIDENCE if event.get(k) not in (None, "")]
        rest = [f"{k}={_value(v)}" for k, v in event.items()
                if k not in STANDARD and k not in EVIDENCE and v not in (None, "", [], {})]
        attempt = f"#{event['attempt']}" if event.get("attempt") is not None else ""
        lines.append(f"    {_offset(event.get('at'), first)}  {event.get('event', '?'):<18} {attempt:<3} "
                     f"{who:<32} {' '.join(evidence + rest)}".rstrip())
    return lines


def heard(result: Result) -> list[str]:
    """What the caller and each recipient heard."""
    seen = result.seen
    if seen is None:
        return []
    lines = ["  heard:", f"    caller {seen.caller_address}: {show_heard(seen.caller_heard)}"]
    shown = set()
    for leg in seen.legs:
        label = f"{leg.name} ({leg.address})" if leg.name else leg.address
        status = leg.call.get("status")
        lines.append(f"    {label}, leg {leg.sid[:10]}… {status}: {show_heard(leg.heard)}")
        shown |= {leg.name, leg.address}
    for party in (result.scenario.expect.get("heard") or {}):
        if party not in shown:
            lines.append(f"    {party}: nothing (never dialed)")
    return lines


def details(result: Result) -> str:
    """Why a scenario did not pass, with everything needed to see the reason."""
    s = result.scenario
    where = [f"caller {result.caller}", f"agent number {result.agent_number}"]
    if s.clock is not None:
        where.append(f"clock {s.clock.isoformat()}")
    lines = [f"{'ERROR' if result.error else 'FAIL'} {s.label}  ({', '.join(where)})"]
    if result.error:
        lines.append(f"  error: {result.error}")
    lines += [f"  - {failure}" for failure in result.failures]
    if result.seen is not None:
        lines += timeline(result) + heard(result)
    return "\n".join(lines)


def render(results: list[Result]) -> str:
    """The table, then the details of every scenario that did not pass."""
    parts = [table(results)]
    parts += [details(r) for r in results if not r.passed]
    return "\n\n".join(parts)


def file_name(result: Result) -> str:
    return display(result.scenario.file)

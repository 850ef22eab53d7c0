"""One log line per finished transfer (logger "handoff.outcome"), written by the workers' dispatcher:

    transfer=tr_4f2a call=CA8d... mode=warm outcome=transfer-failed-timeout attempts=2
    destination=billing_desk rule=billing hold=31.2s answer=- accept=- decided_after=32.0s
    reason="nobody accepted: billing_desk did not answer; backup_desk declined"

logfmt (key=value, quoted when needed), one line per 'completed' event; '-' where a figure does
not apply. A number in `destination` is masked like every other log line (handoff/log_masking.py).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Sequence

log = logging.getLogger("handoff.outcome")

# (label, the event's field), durations in seconds
_DURATIONS = (("hold", "hold_seconds"), ("answer", "answer_seconds"), ("accept", "accept_seconds"),
              ("decided_after", "seconds_to_outcome"), ("total", "total_seconds"))


def _value(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    if any(c in text for c in ' "=\\') or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


def _seconds(value: Any) -> str:
    try:
        return f"{float(value):.1f}s"
    except (TypeError, ValueError):
        return "-"


def outcome_line(event: Mapping[str, Any]) -> str:
    """The line for a 'completed' event, as Event.to_dict() shapes it."""
    pairs = [("transfer", event.get("transfer_id")), ("call", event.get("call_sid")), ("mode", event.get("mode")),
             ("outcome", event.get("outcome")), ("attempts", event.get("attempts")),
             ("destination", event.get("destination")), ("rule", event.get("rule"))]
    text = " ".join(f"{k}={_value(v)}" for k, v in pairs)
    durations = " ".join(f"{label}={_seconds(event.get(name))}" for label, name in _DURATIONS
                         if label != "total" or event.get(name) is not None)
    reason = event.get("detail") or event.get("reason")
    return f"{text} {durations} reason={_value(reason)}"


def log_outcome(event) -> None:
    """Log the outcome line of a 'completed' event (an Event or its dict); other events: nothing."""
    data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    if data.get("event") != "completed":
        return
    outcome = str(data.get("outcome") or "")
    # A failed transfer is worth a look: it stands out at WARNING; success and cancel are INFO.
    level = logging.WARNING if outcome.startswith("transfer-failed") else logging.INFO
    log.log(level, "%s", outcome_line(data))


def dispatch_handler(runtime=None):
    """The dispatcher's handler (handoff/dispatch.py): the lines are written once its batch is committed."""

    def handle(events: Sequence, round_) -> None:
        ends = [e for e in events if e.is_end]
        if ends:
            round_.after(lambda: [log_outcome(e) for e in ends])

    handle.__qualname__ = "outcome_log"
    return handle

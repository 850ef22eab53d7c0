"""Filling `<name>` placeholders in spoken text (whisper, message, summary prompt) at transfer time.

Routing binds variables when it plans (handoff/routing/variables.py) and leaves the runtime names
below untouched; the transfer engine fills them with `fill(template, runtime_values(...))`.
No Flask here.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

PLACEHOLDER_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_.\-]*)>")

# Names the engine fills at transfer time; routing leaves them as-is in text when unbound.
RUNTIME_PLACEHOLDERS = frozenset({"summary", "reason", "caller", "caller_name", "recipient",
                                  "transcript", "agent", "call_sid",
                                  "history"})   # chained transfers: the earlier ones, in a few words (whisper)

TRANSCRIPT_CHARS = 4000    # the end of a long conversation is what the listener needs


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace every `<name>` whose name is in `values`; other placeholders are left as written.

    One pass: a value that itself contains `<name>` is not expanded again (a caller-supplied
    reason cannot pull the transcript or a variable into the whisper).
    """
    if not template:
        return template

    def repl(match: re.Match) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return PLACEHOLDER_RE.sub(repl, template)


def transcript_text(transcript: Sequence[Mapping] | None, limit: int = TRANSCRIPT_CHARS) -> str:
    """A transcript as 'role: text' lines, keeping its last `limit` characters."""
    lines = []
    for turn in transcript or ():
        if not isinstance(turn, Mapping):
            continue
        text = " ".join(str(turn.get("text") or "").split())
        if text:
            lines.append(f"{str(turn.get('role') or 'caller').strip() or 'caller'}: {text}")
    joined = "\n".join(lines)
    return joined if len(joined) <= limit else "…" + joined[-limit:]


def _spoken_name(name: str | None) -> str:
    # "billing_desk" is read aloud as "billing underscore desk"; speak it as words instead.
    return " ".join(re.split(r"[_\-.]+", name or "")).strip()


def runtime_values(*, call: Mapping[str, str] | None = None, call_sid: str | None = None,
                   reason: str | None = None, summary: str | None = None,
                   variables: Mapping[str, object] | None = None, call_variables: Mapping[str, object] | None = None,
                   recipient: str | None = None, transcript: Sequence[Mapping] | None = None,
                   agent: str | None = None, history: str | None = None) -> dict[str, str]:
    """The values `fill` uses: every variable (the request's over the call's) plus the runtime names.

    call: the stored call ({"from", "to", "caller_name"?}); reason/summary/variables: the
    request's; recipient: the recipient's name; transcript: [{"role", "text"}]. A variable of the
    same name wins over a runtime default (e.g. `caller_name` is normally a variable), as in
    routing, where a bound variable is filled before the engine sees the text.
    """
    call = call or {}
    merged = {str(k): _text(v) for k, v in (call_variables or {}).items()}
    merged.update({str(k): _text(v) for k, v in (variables or {}).items()})
    defaults = {
        "caller": call.get("from") or "an unknown number",
        "caller_name": call.get("caller_name") or "the caller",
        "reason": reason or "not given",
        "summary": summary or "",
        "recipient": _spoken_name(recipient) or "the team",
        "transcript": transcript_text(transcript),
        "agent": agent or "the AI assistant",
        "call_sid": call_sid or call.get("sid") or "",
        "history": history or "",    # earlier transfers on the call, in a sentence (handoff/transfer/chain.py)
    }
    return {**defaults, **merged}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)

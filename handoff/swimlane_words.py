"""The words of the Inspector's swimlanes: step titles, step summaries, and outcomes as sentences.

An outcome alone ("transfer-failed-timeout") does not say what happened; its detail, read through
the table below, does: "Nobody answered before the ring timeout."
"""
from __future__ import annotations

import re
from typing import Any

from .events import Event


def target_label(target: str | None) -> tuple[str, str]:
    """'billing (+14155550101)' -> ('billing', '+14155550101'); a bare address stays whole."""
    match = re.match(r"^(.*?) \((.*)\)$", target or "")
    return (match.group(1), match.group(2)) if match else (target or "recipient", "")


_OUTCOMES = {   # outcome -> (short label, colour family)
    "transfer-success": ("Connected", "ok"), "transfer-failed-timeout": ("Timed out", "warn"),
    "transfer-failed-connection-error": ("Connection error", "bad"), "transfer-cancelled": ("Cancelled", "muted"),
    "transfer-screening-rejected": ("Rejected at screening", "bad"),
}
# (outcome, pattern on the detail, sentence): the first match says why, in words. {who} is the
# destination (or "the recipient"), {detail} the raw detail, {group} the pattern's first group.
_REASONS = [
    ("transfer-success", r"^answered$", "{Who} answered and the caller was connected."),
    ("transfer-success", r"^(accepted|bridged)$",
     "{Who} heard the whisper, accepted, and was connected with the caller."),
    ("transfer-success", r"recipient hung up", "The caller was connected with {who}, who later hung up."),
    ("transfer-success", r"bridge ended|caller hung up",
     "The caller was connected with {who}; the call has since ended."),
    ("transfer-success", r"handed to agent", "The call was handed to {who} with the conversation context."),
    ("transfer-success", r"REFER accepted ?(.*)", "The caller's PBX accepted the SIP REFER {group} and took the call."),
    ("transfer-failed-timeout", r"no key", "{Who} answered but pressed no key before the accept timeout."),
    ("transfer-failed-timeout", r"(machine[_a-z]*|fax|voicemail)",
     "A machine answered at {who} (AnsweredBy {group}), so it never heard the whisper."),
    ("transfer-failed-timeout", r"join", "{Who} accepted but never joined the conference."),
    ("transfer-failed-timeout", r"detect", "Answering-machine detection gave no verdict in time."),
    ("transfer-failed-timeout", r"no.answer|ring|attempt", "Nobody answered before the ring timeout."),
    ("transfer-screening-rejected", r"declin", "{Who} pressed the decline key."),
    ("transfer-screening-rejected", r"hung up|completed|hangup",
     "{Who} hung up during the whisper, before accepting."),
    ("transfer-failed-connection-error", r"busy", "{Who}'s line was busy."),
    ("transfer-failed-connection-error", r"could not dial: (.*)", "The call to {who} could not be placed: {group}."),
    ("transfer-failed-connection-error", r"could not move the caller: (.*)", "The caller could not be moved: {group}."),
    ("transfer-failed-connection-error", r"leg (failed|canceled)",
     "The call to {who} failed before anyone answered (Twilio: {group})."),
    ("transfer-failed-connection-error", r"fail|error|unreachable", "The call to {who} failed ({detail})."),
    ("transfer-cancelled", r"Inspector", "Cancelled from the Live Inspector before anyone was connected."),
    ("transfer-cancelled", r"API|cancel", "Cancelled through the API before anyone was connected."),
    ("transfer-cancelled", r"caller hung up|call has ended|caller",
     "The caller hung up before the transfer connected."),
]


def describe_outcome(outcome: str | None, detail: str | None, *, destination: str | None = None,
                     attempts: Any = None) -> dict:
    """An outcome and its detail as a sentence people read (and its label and colour family)."""
    label, tone = _OUTCOMES.get(outcome or "", ((outcome or "In flight").replace("-", " "), "pending"))
    detail = (detail or "").strip()
    who = target_label(destination)[0] if destination else "the recipient"
    sentence = None
    for name, pattern, template in _REASONS:
        match = re.search(pattern, detail, re.IGNORECASE) if name == outcome else None
        if match:
            group = (match.group(1) if match.groups() else "").strip()
            # A name keeps its spelling at the start of a sentence ("warm_desk accepted"); "the recipient" does not.
            sentence = template.format(who=who, Who=who if destination else "The recipient", detail=detail,
                                       group=group)
            sentence = re.sub(r" +", " ", sentence).replace(" .", ".")
            break
    if sentence is None:
        sentence = f"{label}: {detail}." if detail else f"{label}."
    if isinstance(attempts, int) and attempts > 1:
        sentence = f"{sentence[:-1]} (after {attempts} attempts)."
    return {"outcome": outcome, "label": label, "tone": tone, "detail": detail or None, "sentence": sentence}


_CARD_TEXT = {"text-sent": "Card sent", "text-failed": "Card not sent", "text-delivered": "Card delivered",
              "text-undelivered": "Card not delivered"}
# Texts to the caller (handoff/texts.py): what each purpose told them, and what became of it.
_TEXTS = {"text-sent": "Text sent", "text-failed": "Text not sent", "text-delivered": "Text delivered",
          "text-undelivered": "Text not delivered"}
_TEXT_PURPOSES = {"before": "where the call is going", "success": "connected", "failure": "nobody could take it"}
# Twilio's codes a person meets most (https://www.twilio.com/docs/api/errors).
_TEXT_ERRORS = {21610: "the caller unsubscribed (STOP)", 21408: "SMS to that region is not enabled",
                21614: "not a mobile number", 30003: "unreachable handset", 30005: "unknown or inactive number",
                30006: "a landline or unreachable carrier", 30007: "filtered by the carrier",
                30008: "unknown delivery error"}


def title(event: Event) -> str:
    """A step's name in words."""
    detail, kind = event.detail, event.type
    fixed = {
        "requested": "Transfer requested", "transfer-requested": "Transfer requested",
        "caller-on-hold": "Caller on hold", "caller-waiting": "Caller waiting (hold audio)",
        "dialing": "Dialing", "leg-dialed": "Dialed", "leg-ringing": "Ringing", "leg-picked-up": "Picked up",
        "consent-given": "Consent given", "whisper-started": "Whisper started", "whisper-prepared": "Whisper prepared",
        "no-key": "No key pressed", "joined": "Joined the conference", "left": "Left the conference",
        "bridged": "Bridged", "dial-ended": "Dial ended", "refer-result": "SIP REFER result",
        "leg-failed": "Could not dial", "attempt-failed": "Attempt failed", "fallback-taken": "Fallback taken",
        "outcome": "Outcome", "completed": "Completed", "caller-returned": "Caller returned",
        "handed-to-agent": "Handed to agent",
        "chain-limit-reached": "Next transfer refused: chain limit",   # chained transfers (TRANSFER_CHAIN_LIMIT)
        "cancel-requested": "Cancel requested", "caller-gone": "Caller hung up", "gave-up": "Gave up",
        "timeout": "Timed out", "announced": "Bridge announced", "leg-ended-by-handoff": "Ended by Handoff",
        "leg-ended-after-bridge": "Call ended after the bridge", "caller-not-returned": "Caller not returned",
        "caller-not-moved": "Caller not moved", "voicemail-recorded": "Voicemail recorded",
        "dynamic-destination": "Destination resolved", "dynamic-destination-failed": "Destination lookup failed",
        "conference-started": "Conference started", "conference-ended": "Conference ended",
        # Callback offers (handoff/callbacks.py)
        "nobody-available": "Nobody available", "callback-offered": "Callback offered",
        "callback-requested": "Callback requested", "callback-declined": "Callback declined",
    }
    if kind in ("leg-answered", "detection"):
        verdict = detail.get("answered_by") or detail.get("verdict")
        name = "Detection" if kind == "detection" else "Answered"
        return f"{name}: {verdict}" if verdict else name
    if kind == "key-pressed":
        return f"Pressed {detail.get('digits')}" if detail.get("digits") else "Key pressed"
    # Hand-off card (handoff/cards.py): its SMS is a text with purpose "card"; each open is recorded.
    if detail.get("purpose") == "card" and kind in _CARD_TEXT:
        return _CARD_TEXT[kind]
    if kind in _TEXTS:
        about = _TEXT_PURPOSES.get(detail.get("purpose"), detail.get("purpose"))
        return f"{_TEXTS[kind]} ({about})" if about else _TEXTS[kind]
    if kind == "card-opened":
        return "Card opened" if (detail.get("opens") or 1) == 1 else f"Card opened again ({detail.get('opens')}×)"
    if kind in fixed:
        return fixed[kind]
    if kind.startswith("leg-"):
        return "Leg " + kind[4:].replace("-", " ")
    return kind.replace("-", " ").capitalize()


def summary(event: Event) -> str:
    """The step's detail in a few words (what the evidence chips do not already say)."""
    d = event.detail
    parts: list[str] = []
    if event.type in ("requested", "transfer-requested"):
        parts.append(f"to {d.get('to')}" if d.get("to") else "")
        parts.append(f"{d.get('mode')}" if d.get("mode") else "")
        parts.append(f"via {d.get('via')}" if d.get("via") else "")
        parts.append(f"“{d.get('reason')}”" if d.get("reason") else "")
    elif event.type == "dialing":
        targets = d.get("targets") or ([d["target"]] if d.get("target") else [])
        parts.append(", ".join(map(str, targets)) + (" (in parallel)" if d.get("parallel") else ""))
        parts.append(str(d["caller_id_fallback"]) if d.get("caller_id_fallback") else "")   # transfer/caller_ids.py
    elif event.type in ("whisper-started", "whisper-prepared"):
        parts.append(f"“{d.get('text')}”" if d.get("text") else "")
    elif event.type in ("attempt-failed",):
        parts.append(str(d.get("reason") or d.get("outcome") or ""))
    elif event.type == "fallback-taken":
        parts.append(f"next: {d.get('destination')}" if d.get("destination") else "")
        parts.append(f"after {d.get('detail')}" if d.get("detail") else "")
    elif event.type == "outcome":
        parts.append(describe_outcome(d.get("outcome"), d.get("detail") or d.get("reason"),
                                      destination=d.get("destination"), attempts=d.get("attempts"))["sentence"])
    elif event.type == "completed":
        parts.append(f"the transfer is over: {d.get('detail')}" if d.get("detail") else "the transfer is over")
    elif event.type == "caller-returned":
        parts.append(f"to {d.get('to')}" if d.get("to") else "")
    elif event.type == "chain-limit-reached":
        parts.append(f"to {d.get('to')} refused: this call has had {d.get('transfers')} transfers, "
                     f"the limit is {d.get('limit')}; the caller stayed where they were")
    elif event.type == "timeout":
        parts.append(f"waiting for {d.get('stage')}" if d.get("stage") else "")
    elif event.type == "nobody-available":
        reasons = "; ".join(map(str, d.get("reasons") or []))
        parts.append(f"routing found nobody to dial ({reasons})" if reasons else "routing found nobody to dial")
    elif event.type == "callback-offered":
        parts.append("the caller heard the callback offer")
    elif event.type == "callback-requested":
        parts.append(f"call back {d.get('number')}" if d.get("number") else "")
        parts.append(f"said “{d.get('speech')}”" if d.get("speech") else f"pressed {d.get('digits')}")
    elif event.type == "callback-declined":
        parts.append(f"said “{d.get('speech')}”" if d.get("speech") else
                     f"pressed {d.get('digits')}" if d.get("digits") else "")
        parts.append("the caller went back to the agent")
    elif d.get("purpose") == "card" and event.type in _CARD_TEXT:
        parts.append(f"to {d.get('to')}" if d.get("to") else "")
        parts.append(str(d.get("error") or ""))
    elif event.type == "card-opened":
        parts.append("the recipient opened the hand-off card")
    elif event.type in _TEXTS:
        parts.append(f"to {d.get('to')}" if d.get("to") else "")
        code = d.get("code")
        if code:
            parts.append(f"Twilio {code}: {_TEXT_ERRORS[code]}" if code in _TEXT_ERRORS else f"Twilio error {code}")
        elif d.get("error"):
            parts.append(str(d["error"]))
    elif event.type in ("leg-failed", "caller-not-returned", "caller-not-moved", "dynamic-destination-failed"):
        parts.append(str(d.get("error") or ""))
    elif event.type in ("joined", "left"):
        parts.append(str(d.get("participant") or ""))
    elif event.type == "handed-to-agent":
        parts.append(str(d.get("target") or ""))
    return " · ".join(p for p in parts if p)

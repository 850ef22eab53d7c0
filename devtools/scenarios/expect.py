"""Checking a scenario's expectations against what was observed: one line per expectation not met."""
from __future__ import annotations

from .observe import Observation
from .schema import HEARD_KINDS, NOTHING

# `bridged` is being connected with the other party: a <Dial> bridge, or the warm conference.
KIND_ALIASES = {"bridged": ("bridged", "conference")}
CONNECTED = ("bridged", "conference", "announce", "whisper")   # kinds that are always about the caller


def check(expect: dict, seen: Observation) -> list[str]:
    """Why the scenario failed ([] when every expectation holds)."""
    failures = []
    refusal = seen.refusal
    if "refused" in expect:
        problem = refused_problem(expect["refused"], seen)
        if problem:
            failures.append(f"refused: {problem}")
    elif refusal is not None:
        # The transfer never started: one line with the service's words instead of outcome and path.
        wanted = expect.get("outcome") or (f"path {show_path(expect['path'])}" if "path" in expect else "a transfer")
        failures.append(f"expected {wanted}, but the service refused the transfer: {refusal}")
    if "outcome" in expect and refusal is None and seen.outcome != expect["outcome"]:
        failures.append(f"outcome: expected {expect['outcome']}, got {seen.outcome or 'no outcome'}")
    if "path" in expect and refusal is None:
        steps = seen.path()
        if not path_matches(expect["path"], steps):
            failures.append(f"path: expected {show_path(expect['path'])}, got {show_steps(steps)}")
    whispers = seen.whispers()
    if "caller_heard" in expect:
        problem = heard_problem(expect["caller_heard"], seen.caller_heard, whispers)
        if problem:
            failures.append(f"caller_heard: {problem}")
    for party, items in (expect.get("heard") or {}).items():
        problem = heard_problem(items, seen.heard_by(party), whispers)
        if problem:
            failures.append(f"heard.{party}: {problem}")
    if "max_hold_seconds" in expect:
        hold = seen.hold_seconds or 0.0
        if hold > expect["max_hold_seconds"]:
            failures.append(f"max_hold_seconds: the caller held {hold:.1f} s, more than {expect['max_hold_seconds']:g} s")
    if "caller_ends" in expect:
        labels, where = seen.caller_end()
        wanted = expect["caller_ends"]
        if wanted not in labels and wanted.lower() not in labels:
            failures.append(f"caller_ends: expected {wanted}, but the caller is {where}")
    return failures


def refused_problem(wanted, seen: Observation) -> str | None:
    """None when the service refused the transfer (with these words, when `wanted` is a text)."""
    refusal = seen.refusal
    if refusal is None:
        got = f"got {seen.outcome or 'no outcome'}"
        if seen.transfer is not None:
            got += f", path {show_steps(seen.path())}"
        return f"expected the service to refuse the transfer, but it started ({got})"
    if wanted is not True and not refusal.matches(str(wanted)):
        return f"expected a refusal saying {str(wanted)!r}, got: {refusal}"
    return None


# --- path ----------------------------------------------------------------------------------------

def _collapsed(steps: list) -> list:
    """Consecutive repeats of the same step (a recipient's retries) once."""
    out = []
    for step in steps:
        if not out or out[-1] != step:
            out.append(step)
    return out


def _step_matches(expected, step: list[set[str]]) -> bool:
    members = expected if isinstance(expected, list) else [expected]
    if len(members) != len(step):
        return False
    left = list(step)
    for member in members:
        hit = next((labels for labels in left if member in labels), None)
        if hit is None:
            return False
        left.remove(hit)
    return True


def path_matches(expected: list, steps: list[list[set[str]]]) -> bool:
    """Recipients dialed in order; a retry of the same recipient may be written or left out."""
    return any(len(expected) == len(candidate) and all(map(_step_matches, expected, candidate))
               for candidate in (steps, _collapsed(steps)))


def show_path(expected: list) -> str:
    return "[" + ", ".join(f"[{', '.join(s)}]" if isinstance(s, list) else s for s in expected) + "]"


def _name(labels: set[str]) -> str:
    """A target's best label: its recipient name rather than its address."""
    plain = sorted(label for label in labels if not label.startswith(("+", "sip:", "sips:", "client:", "ws", "http")))
    return "/".join(plain) if plain else sorted(labels)[0]


def show_steps(steps: list[list[set[str]]]) -> str:
    if not steps:
        return "[] (nobody was dialed)"
    return "[" + ", ".join(_name(s[0]) if len(s) == 1 else "[" + ", ".join(map(_name, s)) + "]" for s in steps) + "]"


# --- heard ---------------------------------------------------------------------------------------

def _find(item: str, heard: list[dict], entry: int, char: int) -> tuple[int, int] | None:
    """Where `item` is next heard from (entry, character) on: the position just after it, or None.

    A text may be heard later in the same utterance as the item before it."""
    kinds = KIND_ALIASES.get(item, (item,)) if item in HEARD_KINDS else None
    while entry < len(heard):
        if kinds is not None:
            if heard[entry].get("kind") in kinds:
                return entry + 1, 0
        else:
            at = str(heard[entry].get("text") or "").casefold().find(item.casefold(), char)
            if at >= 0:
                return entry, at + len(item)
        entry, char = entry + 1, 0
    return None


def about_caller(entry: dict, whispers: list[str]) -> bool:
    """Whether a heard entry tells the party about the caller: connected to them, or their whisper."""
    text = str(entry.get("text") or "").casefold()
    return entry.get("kind") in CONNECTED or any(w.casefold() in text for w in whispers if w.strip())


def heard_problem(items, heard: list[dict], whispers: list[str] = ()) -> str | None:
    """None when `heard` holds the items in order; for `nothing`, when nothing heard was about the
    caller (silence while a machine is detected, or the neutral consent prompt, are not)."""
    if items == NOTHING:
        told = [entry for entry in heard if about_caller(entry, list(whispers))]
        return f"expected nothing, heard {show_heard(told)}" if told else None
    position = (0, 0)
    for n, item in enumerate(items):
        found = _find(item, heard, *position)
        if found is None:
            after = f" after {items[n - 1]!r}" if n else ""
            return f"expected {item!r}{after}; heard {show_heard(heard) if heard else 'nothing'}"
        position = found
    return None


def show_heard(heard: list[dict], limit: int = 12) -> str:
    """Heard entries in a few words: texts quoted, repeats of a kind counted (music x4, 9.1 s)."""
    parts: list[list] = []
    for entry in heard:
        kind, text = entry.get("kind"), entry.get("text")
        if text:
            parts.append([f'{kind} "{text}"', 1, entry.get("seconds") or 0])
        elif parts and parts[-1][0] == kind:
            parts[-1][1] += 1
            parts[-1][2] += entry.get("seconds") or 0
        else:
            parts.append([kind, 1, entry.get("seconds") or 0])
    words = [f"{what} x{count}, {seconds:.1f} s" if count > 1 else what for what, count, seconds in parts]
    if len(words) > limit:
        words = words[:limit] + [f"... ({len(words) - limit} more)"]
    return "; ".join(words) if words else "nothing"

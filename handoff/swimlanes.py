"""A transfer as swimlanes of its parties (caller, agent, each recipient leg), built from its events.

The Inspector's page only draws what this module decides: which lane an event belongs to, each
lane's state, the steps with their times and the deltas between them, the whisper, the keys
pressed, Twilio's evidence, and the outcome with its reason in words.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from .events import EVIDENCE, Event
from .swimlane_words import describe_outcome, summary, target_label, title

# Transfer-wide events: a row across every lane, not a step of one party.
_TRANSFER_WIDE = {"outcome", "completed", "timeout", "attempt-failed", "fallback-taken", "gave-up",
                  "dynamic-destination", "dynamic-destination-failed", "whisper-prepared", "announced",
                  "conference-started", "conference-ended"}
_CALLER = {"caller-on-hold", "caller-waiting", "caller-returned", "caller-gone", "caller-not-returned",
           "caller-not-moved", "voicemail-recorded", "leg-ended-after-bridge"}
_AGENT = {"requested", "cancel-requested", "transfer-requested",
          "chain-limit-reached"}    # the agent asked for one more transfer than TRANSFER_CHAIN_LIMIT allows

# What an event makes of a recipient lane's state (None: the state does not change).
_LEG_STATE = {
    "leg-dialed": "dialed", "dialing": "dialed", "leg-queued": "dialed", "leg-initiated": "dialed",
    "leg-ringing": "ringing", "leg-picked-up": "answered", "leg-in-progress": "answered",
    "consent-given": "consented", "whisper-started": "whisper", "no-key": "no-key",
    "bridged": "bridged", "joined": "bridged", "handed-to-agent": "connected",
    "leg-busy": "busy", "leg-no-answer": "no-answer", "leg-failed": "failed", "leg-canceled": "cancelled",
    "leg-ended-by-handoff": "cancelled", "leg-completed": "ended", "left": "ended",
}
# Lane states by colour family, for the page (and for people who read the JSON).
TONES = {
    "dialed": "pending", "ringing": "ringing", "answered": "screening", "consent": "screening",
    "consented": "screening", "whisper": "screening", "accepted": "screening", "key": "screening",
    "bridged": "ok", "connected": "ok", "referred": "ok", "ended": "done",
    "busy": "bad", "no-answer": "warn", "failed": "bad", "declined": "bad", "no-key": "warn",
    "voicemail": "warn", "cancelled": "muted", "timeout": "warn",
    # caller and agent
    "with-agent": "pending", "asked": "pending", "waiting": "ringing", "on-hold": "ringing",
    "in-dial": "ringing", "returned": "done", "caller-back": "done", "handed-off": "ok", "gone": "muted",
    "stuck": "bad",
}
STATE_LABELS = {
    "dialed": "Dialed", "ringing": "Ringing", "answered": "Answered", "consent": "Consent prompt",
    "consented": "Consented", "whisper": "Whisper", "accepted": "Accepted", "key": "Key pressed",
    "bridged": "Bridged", "connected": "Connected", "referred": "Referred", "ended": "Ended", "busy": "Busy",
    "no-answer": "No answer", "failed": "Failed", "declined": "Declined", "no-key": "No key",
    "voicemail": "Voicemail", "cancelled": "Cancelled", "timeout": "Timed out", "with-agent": "With agent",
    "asked": "Asked", "waiting": "Waiting", "on-hold": "On hold", "in-dial": "In the dial",
    "returned": "Returned", "caller-back": "Caller back", "handed-off": "Handed off", "gone": "Hung up",
    "stuck": "Not moved",
}
_ENDED = {"ended", "busy", "no-answer", "failed", "declined", "no-key", "voicemail", "cancelled", "timeout"}
_DIAL_STATUS = {"completed": "ended", "answered": "ended", "busy": "busy", "no-answer": "no-answer",
                "failed": "failed", "canceled": "cancelled"}


_STATUS_TONES = {"requested": "pending", "dialing": "pending", "ringing": "ringing", "answered": "screening",
                 "screening": "screening", "bridged": "ok", "completed": "done"}


def transfer_tone(status: str | None, outcome: str | None) -> str:
    """A transfer's colour family in lists: its outcome's once decided, else its status'."""
    if outcome:
        return describe_outcome(outcome, None)["tone"]
    return _STATUS_TONES.get(status or "", "pending")


def _ts(at: str | None) -> float | None:
    if not at:
        return None
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class _Lane:
    """One party's lane while the events are read."""

    def __init__(self, lane_id: str, kind: str, label: str, state: str, *, sublabel: str = "",
                 leg: str | None = None, attempt: int | None = None):
        self.id, self.kind, self.label, self.sublabel = lane_id, kind, label, sublabel
        self.state, self.leg, self.attempt = state, leg, attempt
        self.whisper: str | None = None
        self.keys: list[str] = []
        self.answered_by: str | None = None
        self.evidence: dict[str, Any] = {}
        self.last_ts: float | None = None
        self.first_at: str | None = None
        self.last_at: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "label": self.label, "sublabel": self.sublabel,
                "state": self.state, "state_label": STATE_LABELS.get(self.state, self.state.replace("-", " ")),
                "tone": TONES.get(self.state, "pending"), "leg": self.leg, "attempt": self.attempt,
                "whisper": self.whisper, "keys": self.keys, "answered_by": self.answered_by,
                "evidence": self.evidence, "first_at": self.first_at, "last_at": self.last_at}


def _targets_of(transfer: Mapping) -> dict[int, list[str]]:
    """Attempt number -> its targets described as the events describe them."""
    plans: dict[int, list[str]] = {}
    for number, attempt in enumerate(transfer.get("attempts") or []):
        labels = []
        for target in attempt.get("targets") or []:
            name, address = target.get("recipient"), target.get("address", "")
            labels.append(f"{name} ({address})" if name else address)
        plans[number] = labels
    return plans


class _Builder:
    """Reads the events in order and sorts them into lanes and rows."""

    def __init__(self, transfer: Mapping, call: Mapping | None, accept_key: str, decline_key: str):
        self.transfer = transfer
        self.mode = transfer.get("mode") or "cold"
        self.accept_key, self.decline_key = accept_key, decline_key
        caller_number = (call or {}).get("from") or ""
        self.lanes: dict[str, _Lane] = {
            "caller": _Lane("caller", "caller", "Caller", "with-agent", sublabel=caller_number),
            "agent": _Lane("agent", "agent", "AI agent", "asked", sublabel="asked for the transfer"),
        }
        self.by_leg: dict[str, str] = {}
        self.by_attempt: dict[int, str] = {}
        self.plans = _targets_of(transfer)
        self.rows: list[dict] = []
        self.start_ts: float | None = None
        self.prev_ts: float | None = None
        self.accepted_lane: str | None = None
        self.whisper_text: str | None = None

    # -- lanes --------------------------------------------------------------------------------
    def _recipient(self, event: Event) -> _Lane:
        """The recipient lane an event is about, made on first sight."""
        leg, attempt = event.leg, event.attempt
        if leg and leg in self.by_leg:
            return self.lanes[self.by_leg[leg]]
        if self.mode == "cold" and attempt is not None and attempt in self.by_attempt:
            lane = self.lanes[self.by_attempt[attempt]]
            if leg and not lane.leg:     # a cold Dial's leg SID arrives with its first status
                lane.leg = leg
                self.by_leg[leg] = lane.id
            if not leg or lane.leg == leg:
                return lane
        target = event.detail.get("target") or event.detail.get("destination")
        if not target and attempt is not None:
            planned = self.plans.get(attempt) or []
            target = planned[0] if len(planned) == 1 else None
        name, address = target_label(target or (f"attempt {attempt + 1}" if attempt is not None else "recipient"))
        lane_id = f"leg-{len(self.lanes) - 1}"
        lane = _Lane(lane_id, "recipient", name, "dialed", sublabel=address, leg=leg, attempt=attempt)
        self.lanes[lane_id] = lane
        if leg:
            self.by_leg[leg] = lane_id
        if attempt is not None and (self.mode == "cold" or attempt not in self.by_attempt):
            self.by_attempt[attempt] = lane_id
        return lane

    def _lane_for(self, event: Event) -> _Lane | None:
        kind, detail = event.type, event.detail
        if kind in ("joined", "left"):
            if detail.get("participant") == "caller":
                return self.lanes["caller"]
            if event.leg or self.accepted_lane is None:
                return self._recipient(event)
            return self.lanes[self.accepted_lane]
        if kind == "bridged" and not event.leg and self.accepted_lane:
            return self.lanes[self.accepted_lane]
        if kind in _AGENT:
            return self.lanes["agent"]
        if kind in _CALLER:
            return self.lanes["caller"]
        if kind == "dialing":
            if self.mode == "cold":
                return self._recipient(event)
            return None      # warm: each leg gets its lane when it is dialed
        if kind in _TRANSFER_WIDE:
            return None
        if kind.startswith("leg-") or kind in ("detection", "consent-given", "whisper-started", "key-pressed",
                                               "no-key", "bridged", "dial-ended", "refer-result",
                                               "handed-to-agent"):
            return self._recipient(event)
        return self.lanes["caller"] if not event.leg else self._recipient(event)

    # -- states -------------------------------------------------------------------------------
    def _apply(self, lane: _Lane, event: Event) -> None:
        kind = event.type
        if lane.kind == "recipient":
            self._recipient_state(lane, event)
        elif lane.kind == "caller":
            left = "ended" if lane.state == "bridged" else "returned"
            states = {"caller-on-hold": "on-hold", "caller-waiting": "on-hold", "joined": "on-hold",
                      "caller-gone": "gone", "caller-not-returned": "stuck", "caller-not-moved": "stuck",
                      "caller-returned": "returned", "left": left, "leg-ended-after-bridge": "ended"}
            if kind in states and lane.state != "gone":
                lane.state = states[kind]
        for name, value in event.evidence.items():
            lane.evidence[name] = value

    def _side_effects(self, event: Event, lane: _Lane | None) -> None:
        """What an event says about the other parties (the caller is bridged when a recipient is)."""
        caller, agent = self.lanes["caller"], self.lanes["agent"]
        kind, detail = event.type, event.detail
        if lane is not None and lane.kind == "recipient" and lane.state in ("bridged", "referred", "connected") \
                and caller.state not in ("gone", "ended"):
            caller.state = "bridged" if lane.state != "connected" else "connected"
        if kind == "dialing" and self.mode == "cold" and caller.state != "gone":
            caller.state = "in-dial"
        if kind in ("dialing", "caller-on-hold", "caller-waiting") and agent.state == "asked":
            agent.state = "waiting"
        if kind == "outcome" and detail.get("outcome") == "transfer-success":
            agent.state = "handed-off"
        if kind == "caller-returned" and (detail.get("to") or "agent") == "agent":
            agent.state = "caller-back"

    def _recipient_state(self, lane: _Lane, event: Event) -> None:
        kind, detail = event.type, event.detail
        if lane.state in _ENDED and kind not in ("bridged", "joined"):
            return     # a late fact never revives a lane that ended
        if kind in ("leg-answered", "detection"):
            verdict = str(detail.get("answered_by") or detail.get("verdict") or "").lower()
            lane.answered_by = verdict or lane.answered_by
            if verdict.startswith("machine") or verdict == "fax":
                lane.state = "voicemail"
            elif verdict == "human":
                lane.state = "answered" if lane.state in ("dialed", "ringing") else lane.state
            elif lane.state in ("dialed", "ringing", "answered"):
                lane.state = "consent"
            return
        if kind == "whisper-started":
            lane.whisper = detail.get("whisper") or detail.get("text") or lane.whisper
        if kind == "key-pressed":
            digits = str(detail.get("digits") or "")
            if digits:
                lane.keys.append(digits)
            lane.state = "accepted" if digits == self.accept_key else "declined" if digits == self.decline_key \
                else "key"
            if lane.state == "accepted":
                self.accepted_lane = lane.id
            return
        if kind == "dial-ended":
            lane.state = _DIAL_STATUS.get(str(detail.get("dial_status") or ""), lane.state)
            return
        if kind == "refer-result":
            ok = str(detail.get("refer_status") or "").lower() in ("accepted", "completed", "success")
            lane.state = "referred" if ok else "failed"
            return
        state = _LEG_STATE.get(kind)
        if state:
            if state in ("bridged", "connected"):
                self.accepted_lane = lane.id
            lane.state = state

    # -- rows ---------------------------------------------------------------------------------
    def add(self, event: Event) -> None:
        ts = _ts(event.at)
        if ts is not None and self.start_ts is None:
            self.start_ts = ts
        before = {lane_id: lane.state for lane_id, lane in self.lanes.items()}
        lane = self._lane_for(event)
        if lane is not None:
            self._apply(lane, event)
        self._side_effects(event, lane)
        if event.type == "whisper-prepared" and event.detail.get("text"):
            self.whisper_text = event.detail.get("text")
        lane_delta = None
        if lane is not None:
            if ts is not None and lane.last_ts is not None:
                lane_delta = ts - lane.last_ts
            lane.last_ts = ts if ts is not None else lane.last_ts
            lane.first_at = lane.first_at or event.at
            lane.last_at = event.at
        # Every lane whose state this event changed (the page colours each lane's line from them).
        changed = {lane_id: {"state": other.state, "tone": TONES.get(other.state, "pending")}
                   for lane_id, other in self.lanes.items() if before.get(lane_id) != other.state}
        if lane is not None:
            changed.setdefault(lane.id, {"state": lane.state, "tone": TONES.get(lane.state, "pending")})
        self.rows.append({
            "id": event.id, "event": event.type, "at": event.at, "lane": lane.id if lane else None,
            "attempt": event.attempt, "leg": event.leg, "title": title(event), "text": summary(event),
            "evidence": event.evidence, "state": lane.state if lane else None,
            "tone": TONES.get(lane.state, "pending") if lane else _row_tone(event), "states": changed,
            "t": _secs(ts - self.start_ts) if ts is not None and self.start_ts is not None else None,
            "delta": _secs(ts - self.prev_ts) if ts is not None and self.prev_ts is not None else None,
            "lane_delta": _secs(lane_delta),
        })
        self.prev_ts = ts if ts is not None else self.prev_ts

    def finish(self) -> None:
        """The whisper text for screened legs when their own event did not carry it (older events)."""
        text = self.whisper_text
        for lane in self.lanes.values():
            if lane.kind == "recipient" and lane.whisper is None and text and lane.answered_by == "human":
                lane.whisper = text


def _row_tone(event: Event) -> str:
    if event.type in ("outcome", "completed"):
        return describe_outcome(event.detail.get("outcome"), event.detail.get("detail"))["tone"]
    if event.type in ("attempt-failed", "timeout", "gave-up", "dynamic-destination-failed"):
        return "warn"
    return "pending"


def build(transfer: Mapping, events: Iterable[Event], *, call: Mapping | None = None,
          accept_key: str = "1", decline_key: str = "2") -> dict:
    """The swimlanes of one transfer: `transfer` as the API shows it, `events` oldest first,
    `call` the caller's call record (its number labels the caller's lane)."""
    builder = _Builder(transfer, call, accept_key, decline_key)
    ordered: Sequence[Event] = list(events)
    for event in ordered:
        builder.add(event)
    builder.finish()
    completed = next((e for e in reversed(ordered) if e.type in ("outcome", "completed")), None)
    outcome = None
    if transfer.get("outcome"):
        report = completed.detail if completed else {}
        # Who took the call: the lane that accepted it (one of a parallel group), else the report's.
        accepted = builder.lanes.get(builder.accepted_lane or "")
        who = accepted.label if accepted is not None and transfer["outcome"] == "transfer-success" \
            else report.get("destination")
        outcome = describe_outcome(transfer["outcome"], transfer.get("outcome_detail") or report.get("detail"),
                                   destination=who, attempts=report.get("attempts"))
        outcome["report"] = {k: v for k, v in report.items() if k not in ("outcome", "detail") and k not in EVIDENCE}
    start, end = _ts(transfer.get("created_at")), _ts(transfer.get("finished_at"))
    lanes = [lane.to_dict() for lane in builder.lanes.values()]
    return {
        "transfer": {**{k: transfer.get(k) for k in ("id", "call_sid", "mode", "status", "outcome", "to", "reason",
                                                     "created_at", "finished_at", "attempt", "waiting_for")},
                     "tone": transfer_tone(transfer.get("status"), transfer.get("outcome"))},
        "in_flight": transfer.get("status") not in ("completed", None),
        "cancellable": transfer.get("status") in ("requested", "dialing", "ringing", "answered", "screening"),
        "outcome": outcome, "lanes": lanes, "rows": builder.rows,
        "duration": _secs(end - start) if start is not None and end is not None else None,
        "last_event_id": ordered[-1].id if ordered else None,
    }

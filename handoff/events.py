"""The transfer event stream: one record per lifecycle event, read by every consumer.

Each event is written once, by the same Lua script as the state change it reports
(`append_event` in lua/common.lua), to two Redis Streams under the same entry id:

- the transfer's own stream (`Keys.events(id)`): the durable record, capped at
  `PER_TRANSFER_CAP` entries and expiring with the transfer;
- the feed (`Keys.event_feed()`): every transfer's events in order, capped (approximately) at
  `feed_cap` entries. The worker's dispatcher (handoff/dispatch.py) reads it through a consumer
  group; the Inspector's live views read it through each web process's hub.

Because both streams share the id, `Last-Event-ID` resumes either one.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import redis

from . import archive
from .keys import Keys, decode

PER_TRANSFER_CAP = 500        # events kept per transfer (a transfer has ~10-40)
DEFAULT_FEED_CAP = 20000      # events kept in the feed for consumers that fell behind

# Fields every event may carry; the rest of an event's JSON is its detail (evidence, text, ...).
_STANDARD = ("event", "at", "attempt", "leg", "transfer", "call")
# Twilio's evidence, by our names: what a user needs to see to believe a verdict.
EVIDENCE = ("dial_status", "call_status", "sip_code", "answered_by", "error_code", "refer_status",
            "digits", "reconciled")


@dataclass(frozen=True)
class Event:
    """One lifecycle event: its stream id, type, time, attempt, leg and detail."""

    id: str
    transfer_id: str
    call_sid: str
    type: str
    at: str
    attempt: int | None = None
    leg: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry_id, fields: Mapping) -> "Event":
        """Decode a stream entry (`{b'e': json}`)."""
        raw = json.loads(decode(fields.get(b"e") or fields.get("e") or "{}"))
        attempt = raw.get("attempt")
        return cls(id=decode(entry_id), transfer_id=str(raw.get("transfer") or ""),
                   call_sid=str(raw.get("call") or ""), type=str(raw.get("event") or "unknown"),
                   at=str(raw.get("at") or ""),
                   attempt=int(attempt) if isinstance(attempt, (int, float, str)) and str(attempt).isdigit() else None,
                   leg=raw.get("leg") or None,
                   detail={k: v for k, v in raw.items() if k not in _STANDARD and v is not None})

    @property
    def evidence(self) -> dict[str, Any]:
        """Twilio's own words for what happened (DialCallStatus, SIP code, AnsweredBy, error code)."""
        return {k: self.detail[k] for k in EVIDENCE if k in self.detail}

    @property
    def is_outcome(self) -> bool:
        """The transfer's outcome was decided (its figures in the detail; once per transfer)."""
        return self.type == "outcome"

    @property
    def is_end(self) -> bool:
        """The transfer is over (the outcome's figures repeated: the end-of-transfer report)."""
        return self.type == "completed"

    def to_dict(self) -> dict[str, Any]:
        """The event as the API, the event webhooks and the Inspector show it: one flat shape,
        the standard fields first, then Twilio's evidence and the event's own detail."""
        return {"id": self.id, "event": self.type, "at": self.at, "transfer_id": self.transfer_id,
                "call_sid": self.call_sid, "attempt": self.attempt, "leg": self.leg, **self.detail}

    @cached_property
    def compact_json(self) -> str:
        """to_dict() as compact JSON, encoded once however many live streams send the event."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


class EventLog:
    """Reads the event streams (writing is the Lua scripts' job)."""

    def __init__(self, connection: redis.Redis, keys: Keys):
        self.redis = connection
        self.keys = keys

    def history(self, transfer_id: str, *, after: str | None = None, limit: int = PER_TRANSFER_CAP) -> list[Event]:
        """The transfer's events (archived or not), oldest first, strictly after the id `after` when given."""
        start = f"({after}" if after else "-"
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrange(self.keys.events(transfer_id), start, "+", count=limit)
        pipe.get(self.keys.archive(transfer_id))
        raw, blob = pipe.execute()
        entries = archive.stream_entries(raw)
        if blob:     # archived (handoff/archive.py): its events, then any recorded since
            entries = archive.merge(archive.decode_record(blob)[1], entries, after=after, limit=limit)
        return [Event.from_entry(i, {"e": body}) for i, body in entries]

    def feed(self, *, after: str | None, block_ms: int | None = None, count: int = 500) -> list[Event]:
        """Every transfer's events after `after` ('$' or None: only new ones), waiting up to block_ms."""
        reply = self.redis.xread({self.keys.event_feed(): after or "$"}, count=count, block=block_ms)
        return [Event.from_entry(i, f) for _, entries in reply or [] for i, f in entries]

    def recent(self, *, count: int = 200) -> list[Event]:
        """The newest `count` events of the feed, oldest first."""
        entries = self.redis.xrevrange(self.keys.event_feed(), "+", "-", count=count)
        return [Event.from_entry(i, f) for i, f in reversed(entries)]

    def last_id(self) -> str:
        """The feed's newest id ('0-0' when empty): where a live view starts."""
        entries = self.redis.xrevrange(self.keys.event_feed(), "+", "-", count=1)
        return decode(entries[0][0]) if entries else "0-0"


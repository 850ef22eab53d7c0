"""Listings of transfers and calls: newest first, filtered, with a cursor that stays put as new items arrive.

The indexes are sorted sets (`Keys.transfers_index()`: transfer id -> epoch second it was requested;
`Keys.calls_index()`: call SID -> epoch second it was first seen). A page walks an index from the
cursor down in chunks, reads each chunk's hashes in one pipelined round trip (archived transfers'
records in a second: handoff/archive.py) and filters in Python.
A cursor is the (score, member) of the last entry examined: members are ordered by score then by
member, so "strictly after the cursor" is well defined even for entries with the same score, and
entries added later (newer scores) never shift a page. A rare filter examines at most `SCAN_BUDGET`
entries per page and answers a short page with a cursor to go on from.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

import redis

from .archive import read_archived
from .keys import Keys, decode
from .record import Attempt
from .state import CALL_ENDED, TransferStatus

SCAN_BUDGET = 2000          # index entries one page may examine
MAX_CHUNK = 200             # entries per round trip when filters may drop most of them
ACTIVE = "active"           # a pseudo-status: any status that is not over

SUMMARY_FIELDS = ("id", "call_sid", "mode", "status", "outcome", "outcome_detail", "to", "attempt", "plan",
                  "created_at", "finished_at", "via", "rule", "reason")
_TRANSFER_OVER = frozenset(s.value for s in TransferStatus if s.is_finished)


class InvalidCursor(ValueError):
    """A cursor this service did not write (or one that was tampered with)."""


def encode_cursor(score: float, member: str) -> str:
    """An opaque cursor for the position (score, member)."""
    raw = json.dumps([score, member], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor stands for; InvalidCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, member = json.loads(raw)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not isinstance(member, str):
            raise ValueError
        if score != score or score in (float("inf"), float("-inf")) or not 0 < len(member) <= 128:
            raise ValueError
        return float(score), member
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("not a cursor this service wrote") from None


@dataclass(frozen=True)
class Filters:
    """What a listing keeps; an empty set or None keeps everything."""

    status: frozenset[str] = frozenset()     # transfer (or call) statuses; 'active' = not over
    outcome: frozenset[str] = frozenset()
    mode: frozenset[str] = frozenset()
    recipient: str | None = None             # a recipient's name or address anywhere in the plan, or `to`
    call_sid: str | None = None
    since: float | None = None               # epoch seconds, inclusive
    until: float | None = None               # epoch seconds, exclusive

    @property
    def transfer_filters(self) -> bool:
        """Filters on a transfer's own fields (a call matches when one of its transfers does)."""
        return bool(self.outcome or self.mode or self.recipient)


@dataclass(frozen=True)
class Page:
    """One page: items (newest first) and the cursor of the next page (None at the end)."""

    items: list[dict]
    next_cursor: str | None


def summarize(values: Mapping[str, str | None]) -> dict:
    """A transfer's compact form for lists (the full one is GET /api/transfers/{id})."""
    attempts = [Attempt.from_json(a) for a in json.loads(values.get("plan") or "[]")]
    attempt = int(values.get("attempt") or 0)
    current = attempts[min(attempt, len(attempts) - 1)] if attempts else None
    recipients: list[str] = []
    for item in attempts:
        for target in item.targets:
            name = target.recipient or target.address
            if name not in recipients:
                recipients.append(name)
    return {"id": values.get("id"), "call_sid": values.get("call_sid"), "mode": values.get("mode") or "cold",
            "status": values.get("status"), "outcome": values.get("outcome") or None,
            "outcome_detail": values.get("outcome_detail") or None, "to": values.get("to") or "",
            "destination": (current.describe() if current else None) or None, "attempt": attempt,
            "attempts": len(attempts), "recipients": recipients, "rule": values.get("rule") or None,
            "via": values.get("via") or None, "reason": values.get("reason") or None,
            "created_at": values.get("created_at") or None, "finished_at": values.get("finished_at") or None}


def _addresses(values: Mapping[str, str | None]) -> set[str]:
    found = {values.get("to") or ""}
    for item in json.loads(values.get("plan") or "[]"):
        for target in item.get("targets", ()):
            found.update(v for v in (target.get("recipient"), target.get("address")) if v)
    return found


def transfer_matches(values: Mapping[str, str | None], f: Filters, *, with_status: bool = True) -> bool:
    """Whether a transfer's stored fields pass the filters."""
    status = values.get("status") or ""
    if with_status and f.status and not (status in f.status or (ACTIVE in f.status and status not in _TRANSFER_OVER)):
        return False
    if f.outcome and (values.get("outcome") or "") not in f.outcome:
        return False
    if f.mode and (values.get("mode") or "cold") not in f.mode:
        return False
    if f.call_sid and values.get("call_sid") != f.call_sid:
        return False
    return not f.recipient or f.recipient in _addresses(values)


class Listing:
    """GET /api/transfers and GET /api/calls, read from the indexes."""

    def __init__(self, connection: redis.Redis, keys: Keys):
        self.redis = connection
        self.keys = keys

    # -- transfers ----------------------------------------------------------------------------
    def transfers(self, filters: Filters, cursor: str | None = None, limit: int = 50) -> Page:
        """Transfers, newest first (InvalidCursor for a bad cursor)."""
        position = decode_cursor(cursor) if cursor else None
        narrow = bool(filters.status or filters.transfer_filters)
        if filters.call_sid:
            chunks = self._call_transfers(filters, position)
        else:
            chunks = self._walk(self.keys.transfers_index(), filters, position,
                                MAX_CHUNK if narrow else min(MAX_CHUNK, limit + 1))

        def fetch(members: Sequence[str]) -> list[dict | None]:
            found = self._summaries(members)
            return [found.get(member) for member in members]

        def keep(values: dict) -> dict | None:
            return summarize(values) if transfer_matches(values, filters) else None

        return self._page(self.keys.transfers_index(), chunks, fetch, keep, limit)

    def _call_transfers(self, f: Filters, position) -> Iterator[list[tuple[str, float]]]:
        """The call's own transfers (few), ordered like the index: no need to walk it."""
        ids = [decode(i) for i in self.redis.lrange(self.keys.call_transfers(f.call_sid), 0, -1)]
        if not ids:
            return
        scores = self.redis.zmscore(self.keys.transfers_index(), ids)
        rows = sorted(((i, float(s)) for i, s in zip(ids, scores) if s is not None),
                      key=lambda row: (row[1], row[0]), reverse=True)
        yield [(m, s) for m, s in rows if _within(s, f) and (position is None or (s, m) < position)]

    # -- calls --------------------------------------------------------------------------------
    def calls(self, filters: Filters, cursor: str | None = None, limit: int = 50) -> Page:
        """Calls, newest first, each with its transfers (oldest first); InvalidCursor for a bad cursor."""
        position = decode_cursor(cursor) if cursor else None
        narrow = bool(filters.status or filters.transfer_filters)
        if filters.call_sid:
            chunks = self._one_call(filters, position)
        else:
            chunks = self._walk(self.keys.calls_index(), filters, position,
                                MAX_CHUNK if narrow else min(MAX_CHUNK, limit + 1))
        return self._page(self.keys.calls_index(), chunks, self._fetch_calls,
                          lambda item: self._keep_call(item, filters), limit)

    def _one_call(self, f: Filters, position) -> Iterator[list[tuple[str, float]]]:
        score = self.redis.zscore(self.keys.calls_index(), f.call_sid)
        if score is not None and _within(score, f) and (position is None or (score, f.call_sid) < position):
            yield [(f.call_sid, float(score))]

    def _fetch_calls(self, sids: Sequence[str]) -> list[dict | None]:
        """Each call's hash, transfer in flight and transfers, then those transfers: two round trips."""
        pipe = self.redis.pipeline(transaction=False)
        for sid in sids:
            pipe.hgetall(self.keys.call(sid))
            pipe.get(self.keys.call_active(sid))
            pipe.lrange(self.keys.call_transfers(sid), 0, -1)
        replies = pipe.execute()
        calls: list[dict | None] = []
        wanted: list[str] = []
        for n, sid in enumerate(sids):
            data, active, ids = replies[3 * n: 3 * n + 3]
            if not data:
                calls.append(None)
                continue
            fields = {decode(k): decode(v) for k, v in data.items()}
            ids = [decode(i) for i in ids]
            wanted += ids
            calls.append({"sid": sid, "fields": fields, "active": decode(active), "ids": ids})
        transfers = self._summaries(wanted)
        for call in calls:
            if call is not None:
                call["transfers"] = [transfers[i] for i in call.pop("ids") if i in transfers]
        return calls

    def _summaries(self, transfer_ids: Sequence[str]) -> dict[str, dict]:
        """The SUMMARY_FIELDS of those transfers that exist: from their hashes, else their archives
        (handoff/archive.py, a second round trip only when some are archived)."""
        found: dict[str, dict] = {}
        if not transfer_ids:
            return found
        pipe = self.redis.pipeline(transaction=False)
        for transfer_id in transfer_ids:
            pipe.hmget(self.keys.transfer(transfer_id), *SUMMARY_FIELDS)
        gone = []
        for transfer_id, row in zip(transfer_ids, pipe.execute()):
            if row[0] is not None:
                found[transfer_id] = dict(zip(SUMMARY_FIELDS, map(decode, row)))
            else:
                gone.append(transfer_id)
        for transfer_id, fields in read_archived(self.redis, self.keys, gone).items():
            found[transfer_id] = {name: fields.get(name) for name in SUMMARY_FIELDS}
        return found

    @staticmethod
    def _keep_call(call: dict, f: Filters) -> dict | None:
        fields = call["fields"]
        status = fields.get("status") or ""
        if f.status and not (status in f.status or (ACTIVE in f.status and status not in CALL_ENDED)):
            return None
        if f.transfer_filters and not any(transfer_matches(t, f, with_status=False) for t in call["transfers"]):
            return None
        return {"sid": call["sid"], "from": fields.get("from") or None, "to": fields.get("to") or None,
                "direction": fields.get("direction") or None, "sip": fields.get("sip") == "1", "status": status or None,
                "created_at": fields.get("created_at") or None, "ended_at": fields.get("ended_at") or None,
                "active_transfer": call["active"] or None,
                "transfers": [summarize(t) for t in call["transfers"]]}

    # -- the walk -----------------------------------------------------------------------------
    def _walk(self, key: str, f: Filters, position: tuple[float, str] | None,
              chunk: int) -> Iterator[list[tuple[str, float]]]:
        """Chunks of (member, score) strictly after `position`, newest first, within since/until."""
        low = f.since if f.since is not None else "-inf"
        if position is not None and (f.until is None or position[0] < f.until):
            high, skip = position[0], position
        else:
            high, skip = (f"({f.until!r}" if f.until is not None else "+inf"), None
        offset = 0
        while True:
            rows = self.redis.zrevrangebyscore(key, high, low, start=offset, num=chunk, withscores=True)
            rows = [(decode(m), float(s)) for m, s in rows]
            if not rows:
                return
            # Entries with the cursor's score come first, in descending member order: skip those
            # at or before the cursor (they were on an earlier page).
            yield [(m, s) for m, s in rows if skip is None or s != skip[0] or m < skip[1]]
            if len(rows) < chunk:
                return
            last = rows[-1][1]
            if isinstance(high, float) and last == high:
                offset += len(rows)          # the whole chunk had the bound's score: page through the tie
            else:
                high, offset = last, sum(1 for _, s in rows if s == last)

    def _page(self, index: str, chunks: Iterable[list[tuple[str, float]]], fetch, keep, limit: int) -> Page:
        """Fill a page from the chunks: `fetch` reads a chunk's records, `keep` filters and presents one."""
        found: list[tuple[dict, tuple[float, str]]] = []
        expired: list[str] = []
        examined, last = 0, None
        for chunk in chunks:
            if not chunk:
                continue
            for (member, score), record in zip(chunk, fetch([m for m, _ in chunk])):
                examined += 1
                last = (score, member)
                if record is None:
                    expired.append(member)       # the hash expired before its index entry was trimmed
                    continue
                item = keep(record)
                if item is not None:
                    found.append((item, last))
                if len(found) > limit:
                    break
            if len(found) > limit or examined >= SCAN_BUDGET:
                break
        else:
            last = None                          # the walk ended: there is no next page
        if expired:
            self.redis.zrem(index, *expired)
        if len(found) > limit:
            return Page([item for item, _ in found[:limit]], encode_cursor(*found[limit - 1][1]))
        return Page([item for item, _ in found], encode_cursor(*last) if last else None)


def _within(score: float, f: Filters) -> bool:
    return (f.since is None or score >= f.since) and (f.until is None or score < f.until)

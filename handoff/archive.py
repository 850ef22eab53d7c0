"""Finished transfers folded into one compact record, read back as if nothing had happened.

A transfer in flight lives in five keys: its hash, its event stream, the set of callbacks already
applied, the hash of its legs and that of its texts (handoff/texts.py). Kept as they are, a finished warm transfer costs ~17 kB of Redis
for its whole retention, mostly allocation overhead (one value over 64 bytes makes the hash a
hashtable; a stream allocates its nodes 4 kB at a time). Once it is settled (completed, waiting for
nothing: lua/common.lua `settle`) and nothing has changed it for `archive_after` seconds, a sweeper
(handoff/transfer/recovery.py) folds its fields and events into one zlib-compressed JSON string
(~2 kB), with the rest of its TTL, and deletes the five keys in the same MULTI. WATCH guards the
fold: a callback that changes the transfer between the read and the write aborts it (tried again).
It also waits while the caller may still answer a callback offer and while a text is being sent:
both are recorded on the live hash only (lua/callback.lua, lua/text.lua).

Afterwards the store's readers find the archive where the hash was (Store.get_transfer,
get_transfer_with_events, EventLog.history, the listings), and a late callback still never moves
it: transition.lua answers 'archived' and the store answers 'refused' with the archived transfer.
An event appended later (a voicemail's recording) goes to a new stream; readers merge the two.
"""
from __future__ import annotations

import json
import time
import zlib
from typing import TYPE_CHECKING, Iterable, Mapping

import redis

from .keys import Keys, decode
from .text_claims import in_flight

if TYPE_CHECKING:
    from .store import Store

FORMAT = 1             # the record's layout: {"v": 1, "f": {field: value}, "e": [[stream id, event json], ...]}
LEASE = 30.0           # seconds a claimed fold is owned before another sweeper may try it
# How long after its offer a caller may still answer it (the prompt, OFFER_SECONDS of <Gather>, a
# slow action): the fold waits this long (and for a text on its way: handoff/text_claims.py).
OFFER_WINDOW = 120.0
Entry = tuple[str, str]   # (stream id, the event's JSON)


def encode(fields: Mapping[str, str], entries: Iterable[Entry]) -> bytes:
    """The record of a transfer: its hash's fields and its events, compressed."""
    record = {"v": FORMAT, "f": dict(fields), "e": [[i, body] for i, body in entries]}
    return zlib.compress(json.dumps(record, separators=(",", ":")).encode())


def decode_record(blob: bytes) -> tuple[dict[str, str], list[Entry]]:
    """A record's fields and events (oldest first)."""
    record = json.loads(zlib.decompress(blob))
    if record.get("v") != FORMAT:
        raise ValueError(f"unknown archive format {record.get('v')!r}")
    return record["f"], [(i, body) for i, body in record["e"]]


def stream_entries(raw: Iterable) -> list[Entry]:
    """XRANGE's reply as (id, event json) pairs."""
    return [(decode(i), decode(fields.get(b"e") or fields.get("e") or "{}")) for i, fields in raw]


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def merge(archived: list[Entry], later: list[Entry], *, after: str | None = None,
          limit: int | None = None) -> list[Entry]:
    """The archive's events then those recorded since (in the new stream), strictly after `after`."""
    entries = sorted({i: body for i, body in [*archived, *later]}.items(), key=lambda e: _order(e[0]))
    if after:
        start = _order(after)
        entries = [e for e in entries if _order(e[0]) > start]
    return entries[:limit] if limit is not None else entries


def read_archived(connection: redis.Redis, keys: Keys, transfer_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """The archived fields of those transfers that are archived (one round trip)."""
    ids = list(transfer_ids)
    if not ids:
        return {}
    pipe = connection.pipeline(transaction=False)
    for transfer_id in ids:
        pipe.get(keys.archive(transfer_id))
    return {transfer_id: decode_record(blob)[0] for transfer_id, blob in zip(ids, pipe.execute()) if blob}


class Archiver:
    """Folds settled transfers into their archive once their quiet time has passed."""

    def __init__(self, store: "Store"):
        self.store = store
        self.redis = store.redis
        self.keys = store.keys

    def archive_due(self, *, limit: int = 100) -> int:
        """Fold the transfers whose archive is due (claimed under a lease); returns how many were folded."""
        _, due = self.store.claim(self.keys.archives(), lease=LEASE, limit=limit)
        return sum(1 for transfer_id in due if self.fold(transfer_id) == "archived")

    def fold(self, transfer_id: str) -> str:
        """Fold one transfer now if it is settled: 'archived'; 'unsettled' or 'gone' (its index entry
        dropped); 'busy' when it changed while being read, or its callback offer or a text is still out
        (its entry stays: tried again once the lease has passed)."""
        k = self.keys
        hash_key, stream, archive = k.transfer(transfer_id), k.events(transfer_id), k.archive(transfer_id)
        texts = k.texts(transfer_id)
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(hash_key, stream, k.legs(transfer_id), texts)
                fields = {decode(f): decode(v) for f, v in pipe.hgetall(hash_key).items()}
                if not fields:
                    verdict = "gone"          # archived already, or expired
                elif fields.get("status") != "completed" or fields.get("dl_kind"):
                    verdict = "unsettled"     # settling again re-adds its entry
                else:
                    entries = stream_entries(pipe.xrange(stream, "-", "+"))
                    out = _offer_out(entries) or in_flight({decode(f): decode(v) for f, v in pipe.hgetall(texts).items()})
                    verdict = "busy" if out else "archived"
                    if not out:
                        blob = encode(fields, entries)
                        ttl_ms = pipe.pttl(hash_key)
                if verdict == "busy":
                    pipe.reset()
                    return verdict
                pipe.multi()
                if verdict == "archived":
                    pipe.set(archive, blob, px=ttl_ms if ttl_ms > 0 else self.store.ttl * 1000)
                    pipe.delete(hash_key, stream, k.seen(transfer_id), k.legs(transfer_id), texts)
                pipe.zrem(k.archives(), transfer_id)
                pipe.execute()
                return verdict
            except redis.WatchError:
                return "busy"


def _offer_out(entries: list[Entry], now: float | None = None) -> bool:
    """A callback offer made less than OFFER_WINDOW ago that the caller has not answered yet."""
    offered_at = None
    for entry_id, body in entries:
        if '"callback-' not in body:
            continue
        kind = json.loads(body).get("event")
        if kind == "callback-offered":
            offered_at = _order(entry_id)[0] / 1000
        elif kind in ("callback-requested", "callback-declined"):
            offered_at = None
    return offered_at is not None and (now or time.time()) - offered_at < OFFER_WINDOW

"""4. Memory: the Redis bytes each finished transfer keeps for its retention, by key kind, and the
shared structures (capped or per hour) apart.

Every figure is `MEMORY USAGE key SAMPLES 0` (exact for aggregates). A transfer's bytes are its own
keys (handoff/keys.py Keys.transfer_slot_keys: the hash, event stream, seen set, legs and texts while it
is live or settling; its archive once folded: handoff/archive.py), its call's keys (shared by the
call's transfers: apportioned between them) and its entries in the transfers and calls indexes
(each index's bytes divided by its entries). RQ's job records are not ours and expire after their
result_ttl; measure once they have.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

import redis as redis_lib

from handoff.archive import decode_record
from handoff.keys import Keys, decode

CHUNK = 500          # keys per pipelined round trip
TRANSFER_KINDS = ("transfer", "events", "seen", "legs", "texts", "archive")
CALL_KINDS = ("call", "call_transfers", "call_active", "call_variables")


def _usage(connection: redis_lib.Redis, names: list[str]) -> list[int]:
    sizes: list[int] = []
    for start in range(0, len(names), CHUNK):
        pipe = connection.pipeline(transaction=False)
        for name in names[start:start + CHUNK]:
            pipe.memory_usage(name, samples=0)
        sizes += [size or 0 for size in pipe.execute()]
    return sizes


def _call_sids(connection: redis_lib.Redis, keys: Keys, transfer_ids: list[str]) -> list[str | None]:
    """Each transfer's call SID, from its hash or else its archive."""
    sids: list[str | None] = []
    for start in range(0, len(transfer_ids), CHUNK):
        chunk = transfer_ids[start:start + CHUNK]
        pipe = connection.pipeline(transaction=False)
        for transfer_id in chunk:
            pipe.hget(keys.transfer(transfer_id), "call_sid")
            pipe.get(keys.archive(transfer_id))
        replies = pipe.execute()
        for n in range(len(chunk)):
            sid, blob = replies[2 * n], replies[2 * n + 1]
            sids.append(decode(sid) if sid else decode_record(blob)[0].get("call_sid") if blob else None)
    return sids


def _index_entry_bytes(connection: redis_lib.Redis, name: str) -> float:
    entries = connection.zcard(name)
    return (connection.memory_usage(name, samples=0) or 0) / entries if entries else 0.0


def shared(connection: redis_lib.Redis, keys: Keys) -> dict:
    """The structures every transfer shares: the event feed (capped by EVENT_FEED_LENGTH), the hourly
    analytics, the indexes, the audit stream and the small queues of due work."""
    feed = keys.event_feed()
    feed_bytes, feed_len = connection.memory_usage(feed, samples=0) or 0, connection.xlen(feed)
    totals = keys.analytics("totals")
    hours = [name for name in (decode(k) for k in connection.scan_iter(match=keys.analytics("*"), count=1000))
             if name != totals]
    hour_sizes = _usage(connection, hours)
    named = {"transfers_index": keys.transfers_index(), "calls_index": keys.calls_index(),
             "deadlines": keys.deadlines(), "archives": keys.archives(), "audit": keys.audit(),
             "deliveries": keys.deliveries(), "sweepers": keys.sweepers()}
    sizes = dict(zip(named, _usage(connection, list(named.values()))))
    return {"event_feed_bytes": feed_bytes, "event_feed_entries": feed_len,
            "event_feed_bytes_per_entry": round(feed_bytes / feed_len) if feed_len else None,
            "analytics_hours": len(hours), "analytics_hours_bytes": sum(hour_sizes),
            "analytics_bytes_per_hour": round(sum(hour_sizes) / len(hours)) if hours else None,
            "analytics_totals_bytes": connection.memory_usage(totals, samples=0) or 0,
            **{f"{name}_bytes": size for name, size in sizes.items()}}


def measure(connection: redis_lib.Redis, keys: Keys, transfer_ids: Iterable[str]) -> dict:
    """Bytes per finished transfer: per key kind (mean over the transfers), the mean and largest total,
    how many are archived, and the shared structures apart."""
    ids = list(transfer_ids)
    if not ids:
        return {"transfers": 0, "bytes_per_finished_transfer": None, "shared": shared(connection, keys)}
    builders = {"transfer": keys.transfer, "events": keys.events, "seen": keys.seen, "legs": keys.legs,
                "texts": keys.texts, "archive": keys.archive}
    own = _usage(connection, [builders[kind](i) for i in ids for kind in TRANSFER_KINDS])
    sids = _call_sids(connection, keys, ids)
    calls = sorted({sid for sid in sids if sid})
    call_builders = {"call": keys.call, "call_transfers": keys.call_transfers, "call_active": keys.call_active,
                     "call_variables": keys.call_variables}
    call_sizes = _usage(connection, [call_builders[kind](sid) for sid in calls for kind in CALL_KINDS])
    by_call = {sid: dict(zip(CALL_KINDS, call_sizes[n * len(CALL_KINDS):(n + 1) * len(CALL_KINDS)]))
               for n, sid in enumerate(calls)}
    transfers_per_call = Counter(sid for sid in sids if sid)
    index = {"transfers_index_entry": _index_entry_bytes(connection, keys.transfers_index()),
             "calls_index_entry": _index_entry_bytes(connection, keys.calls_index())}
    totals: list[float] = []
    kinds: dict[str, float] = defaultdict(float)
    archived = 0
    for n, sid in enumerate(sids):
        mine = dict(zip(TRANSFER_KINDS, own[n * len(TRANSFER_KINDS):(n + 1) * len(TRANSFER_KINDS)]))
        archived += bool(mine["archive"]) and not mine["transfer"]
        share = 1 / transfers_per_call[sid] if sid else 0.0
        for kind, size in by_call.get(sid, {}).items():
            mine[kind] = size * share
        mine["transfers_index_entry"] = index["transfers_index_entry"]
        mine["calls_index_entry"] = index["calls_index_entry"] * share
        for kind, size in mine.items():
            kinds[kind] += size
        totals.append(sum(mine.values()))
    return {"transfers": len(ids), "archived": archived,
            "bytes_by_kind": {kind: round(size / len(ids)) for kind, size in kinds.items()},
            "bytes_per_finished_transfer": round(sum(totals) / len(ids)), "max_bytes_per_transfer": round(max(totals)),
            "shared": shared(connection, keys)}

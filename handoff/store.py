"""Redis persistence for calls and transfers: every state change is one Lua script (atomic)."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import redis

from . import archive
from .events import DEFAULT_FEED_CAP, Event
from .keys import Keys, decode
from .record import Transfer
from .changes import Change, CreateResult, Deadline, Result, _pairs
from .state import LegState

_LUA_DIR = Path(__file__).with_name("lua")
_PRELUDE = ("base", "analytics", "common")     # shared helpers, in dependency order
_STANDALONE = frozenset({"claim", "delivery_open", "delivery_take", "record_call"})   # scripts without the prelude
timeline_log = logging.getLogger("handoff.timeline")
DEFAULT_TTL = 7 * 24 * 3600          # every key expires a week after its last change (STATE_TTL_SECONDS)
DEFAULT_ARCHIVE_AFTER = 300          # a settled transfer is archived after this long unchanged (handoff/archive.py)
IDEMPOTENCY_TTL = 24 * 3600
DEFAULT_ANALYTICS_TTL = 90 * 24 * 3600
DEFAULT_CHAIN_LIMIT = 10             # transfers one call may go through (TRANSFER_CHAIN_LIMIT)
CHAIN_REFUSED = "refused|chain-limit"    # analytics totals field: refusals by TRANSFER_CHAIN_LIMIT (handoff/metrics.py)


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds (timeline timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Batch:
    """Commands sent to Redis in one round trip; `parsers` turn raw replies into results."""

    pipe: Any
    parsers: list[Callable[[Any], Any]] = field(default_factory=list)

    def add(self, parser: Callable[[Any], Any] = lambda raw: raw) -> None:
        self.parsers.append(parser)

    def pad(self) -> None:
        """Align the parsers with commands added by others (RQ adds a varying number)."""
        for _ in range(max(0, len(self.pipe.command_stack) - len(self.parsers))):
            self.add()


class _Script:
    def __init__(self, name: str):
        prelude = "\n".join((_LUA_DIR / f"{part}.lua").read_text() for part in _PRELUDE) \
            if name not in _STANDALONE else ""
        self.source = prelude + "\n" + (_LUA_DIR / f"{name}.lua").read_text()
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


class Store:
    """Calls and transfers in Redis, under one key prefix, with TTLs on everything."""

    _SCRIPT_NAMES = ("create", "transition", "call_ended", "record_call", "claim", "append", "delivery_open",
                     "delivery_take", "text",
                     "callback")

    def __init__(self, connection: redis.Redis, *, keys: Keys, ttl: int = DEFAULT_TTL,
                 feed_cap: int = DEFAULT_FEED_CAP, analytics_ttl: int = DEFAULT_ANALYTICS_TTL,
                 archive_after: int = DEFAULT_ARCHIVE_AFTER, chain_limit: int = DEFAULT_CHAIN_LIMIT):
        if ttl <= 0 or archive_after < 0:
            raise ValueError("ttl must be positive and archive_after not negative")
        self.redis = connection
        self.keys = keys
        self.ttl = ttl
        self.archive_after = archive_after
        self.chain_limit = chain_limit     # TRANSFER_CHAIN_LIMIT: create.lua refuses a call's transfer beyond it
        self.feed_cap = feed_cap
        self.analytics_ttl = analytics_ttl
        self._scripts = {name: _Script(name) for name in self._SCRIPT_NAMES}

    # -- plumbing -------------------------------------------------------------------------------
    def load_scripts(self) -> None:
        """Register the Lua scripts with Redis (at start-up, and again after a restart forgot them)."""
        for script in self._scripts.values():
            self.redis.script_load(script.source)

    def batch(self) -> Batch:
        """A MULTI pipeline to group a transition with RQ enqueues in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.multi()   # explicit: RQ's enqueue(pipeline=...) calls multi() itself unless it is set
        return Batch(pipe=pipe)

    def execute(self, batch: Batch) -> list:
        """Send the batch; reload scripts and resend once if Redis had forgotten them."""
        batch.pad()
        saved = list(batch.pipe.command_stack)
        for attempt in (1, 2):
            replies = batch.pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                # Redis restarted or SCRIPT FLUSH: nothing in the batch ran (MULTI), so resend it.
                self.load_scripts()
                batch.pipe.multi()
                batch.pipe.command_stack = list(saved)
                continue
            break
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise errors[0]
        return [parse(raw) for parse, raw in zip(batch.parsers, replies)]

    def run(self, name: str, keys: list[str], args: list, parse: Callable = lambda raw: raw,
            batch: Batch | None = None):
        """Run handoff/lua/<name>.lua (EVALSHA, reloaded if Redis forgot it), alone or in a batch."""
        sha = self._scripts[name].sha
        if batch is not None:
            batch.pad()
            batch.pipe.evalsha(sha, len(keys), *keys, *args)
            batch.add(parse)
            return None
        try:
            return parse(self.redis.evalsha(sha, len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            self.load_scripts()
            return parse(self.redis.evalsha(sha, len(keys), *keys, *args))

    # -- calls ----------------------------------------------------------------------------------
    def record_call(self, call_sid: str, fields: Mapping[str, str]) -> None:
        """Create or update what we know of a call (one round trip: lua/record_call.lua)."""
        pairs = [x for k, v in fields.items() if v is not None for x in (k, v)]
        self.run("record_call", [self.keys.call(call_sid), self.keys.calls_index()],
                 [self.ttl, f"{time.time():.3f}", call_sid, *pairs])

    def get_call(self, call_sid: str) -> dict[str, str] | None:
        """The call's hash, or None if unknown."""
        data = self.redis.hgetall(self.keys.call(call_sid))
        return {decode(k): decode(v) for k, v in data.items()} or None

    def call_context(self, call_sid: str, *, idempotency_key: str | None = None):
        """The call, its transfer in flight, its variables, an Idempotency-Key's record and its chain so far
        (how many transfers, the last one's id), in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.call(call_sid))
        pipe.get(self.keys.call_active(call_sid))
        pipe.hgetall(self.keys.call_variables(call_sid))
        pipe.hgetall(self.keys.idempotency(idempotency_key or "-"))
        pipe.llen(self.keys.call_transfers(call_sid))
        pipe.lindex(self.keys.call_transfers(call_sid), -1)
        call, active, variables, idempotent, length, last = pipe.execute()
        return ({decode(k): decode(v) for k, v in call.items()} or None, decode(active),
                {decode(k): decode(v) for k, v in variables.items()},
                _pairs([x for kv in idempotent.items() for x in kv]) if idempotency_key else {},
                ChainSoFar(int(length or 0), decode(last) or ""))

    def call_transfer_ids(self, call_sid: str) -> list[str]:
        """Ids of the call's transfers, oldest first."""
        return [decode(v) for v in self.redis.lrange(self.keys.call_transfers(call_sid), 0, -1)]

    def set_call_variables(self, call_sid: str, variables: Mapping[str, str]) -> dict[str, str]:
        """Replace the call's variables; returns them."""
        key = self.keys.call_variables(call_sid)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        if variables:
            pipe.hset(key, mapping=dict(variables))
        pipe.expire(key, self.ttl)
        pipe.execute()
        return dict(variables)

    def get_call_variables(self, call_sid: str) -> dict[str, str]:
        """Variables set for the call earlier (empty when none)."""
        return {decode(k): decode(v) for k, v in self.redis.hgetall(self.keys.call_variables(call_sid)).items()}

    def call_ended(self, call_sid: str, *, call_status: str) -> str | None:
        """Record the end of the caller's call; returns its transfer in flight (now due), if any."""
        keys = [self.keys.call(call_sid), self.keys.call_active(call_sid), self.keys.deadlines()]
        raw = self.run("call_ended", keys, [call_status, utc_now_iso(), self.ttl, f"{time.time():.3f}"],
                        lambda r: [decode(x) for x in r], None)
        return raw[1] or None

    # -- transfers ------------------------------------------------------------------------------
    def create_transfer(self, fields: Mapping[str, Any], *, event: Mapping, idempotency_key: str | None,
                        fingerprint: str, deadline: Deadline, batch: Batch | None = None) -> CreateResult | None:
        """Store a new transfer, with its first deadline and its place in the call's chain, unless it is a
        retry or not allowed now (another in flight, the call over, or TRANSFER_CHAIN_LIMIT reached: create.lua
        then records the refusal itself, on the chain's last transfer as `fields['previous_id']` names it)."""
        transfer_id, call_sid = fields["id"], fields["call_sid"]
        last = str(fields.get("previous_id") or "")
        keys = [self.keys.call(call_sid), self.keys.call_active(call_sid),
                self.keys.idempotency(idempotency_key or "-"), self.keys.transfer(transfer_id),
                self.keys.events(transfer_id), self.keys.call_transfers(call_sid), self.keys.deadlines(),
                self.keys.event_feed(), self.keys.transfers_index(), self.keys.analytics("totals"),
                self.keys.events(last or transfer_id)]   # (no chain: the new one's, untouched on a refusal)
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, str(v)]
        now, now_ts = utc_now_iso(), time.time()
        refusal = self.chain_refusal(to=event.get("to", ""), via=event.get("via", ""), at=now)
        args = [transfer_id, self.ttl, json.dumps({"at": now, **event}, separators=(",", ":")),
                fingerprint if idempotency_key else "", IDEMPOTENCY_TTL, deadline.kind.value,
                f"{now_ts + deadline.after:.3f}", f"{now_ts:.3f}", self.feed_cap, call_sid, self.chain_limit,
                json.dumps(refusal, separators=(",", ":")), last, CHAIN_REFUSED, *flat]
        return self.run("create", keys, args, lambda r: CreateResult(*[decode(x) for x in r]), batch)

    def apply(self, transfer_id: str, call_sid: str, change: Change, *, batch: Batch | None = None) -> Result | None:
        """Apply one change atomically (lua/transition.lua); returns None when batched."""
        now, now_ts = utc_now_iso(), time.time()
        spec = change.to_json(now, now_ts)
        hour = time.strftime("%Y%m%d%H", time.gmtime(now_ts))
        return self.run("transition", self.keys.transfer_keys(transfer_id, call_sid, hour),
                         [spec, self.ttl, self.feed_cap, self.analytics_ttl, self.archive_after],
                         _logged(transfer_id, change.events(now), self._archived), batch)

    def get_transfer(self, transfer_id: str) -> Transfer | None:
        """The transfer (archived or not), or None if unknown (or expired)."""
        data = self.redis.hgetall(self.keys.transfer(transfer_id))
        if data:
            return Transfer.parse({decode(k): decode(v) for k, v in data.items()})
        return self._archived(transfer_id)    # a second round trip only once the hash is gone

    def _archived(self, transfer_id: str) -> Transfer | None:
        blob = self.redis.get(self.keys.archive(transfer_id))
        return Transfer.parse(archive.decode_record(blob)[0]) if blob else None

    def get_transfer_with_events(self, transfer_id: str) -> tuple[Transfer | None, list[Event]]:
        """The transfer and its events (archived or not) in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.transfer(transfer_id))
        pipe.xrange(self.keys.events(transfer_id), "-", "+")
        pipe.get(self.keys.archive(transfer_id))
        data, entries, blob = pipe.execute()
        entries = archive.stream_entries(entries)
        if data:
            fields = _pairs([x for kv in data.items() for x in kv])
        elif blob:
            fields, archived = archive.decode_record(blob)
            entries = archive.merge(archived, entries)
        else:
            return None, []
        return Transfer.parse(fields), [Event.from_entry(entry_id, {"e": body}) for entry_id, body in entries]

    def legs(self, transfer_id: str) -> dict[str, tuple[int, LegState]]:
        """Recipient legs of the transfer: call SID -> (attempt, state)."""
        result = {}
        for sid, value in self.redis.hgetall(self.keys.legs(transfer_id)).items():
            attempt, _, state = decode(value).partition(":")
            result[decode(sid)] = (int(attempt), LegState(state))
        return result

    def chain_refusal(self, *, to: str, via: str, at: str | None = None, transfers: int | None = None) -> dict:
        """The 'chain-limit-reached' event (create.lua adds `transfers` when it refuses)."""
        return {"at": at or utc_now_iso(), "event": "chain-limit-reached", "to": to, "via": via,
                **({"transfers": transfers} if transfers is not None else {}), "limit": self.chain_limit}

    def chain_refused(self, transfer_id: str, call_sid: str, *, transfers: int, to: str, via: str) -> None:
        """A request refused by TRANSFER_CHAIN_LIMIT before it reached create.lua (which records its own): the
        same event on the chain's last transfer (Inspector, event webhooks) and the same count (/metrics)."""
        batch = self.batch()
        self.append_event(transfer_id, call_sid, self.chain_refusal(to=to, via=via, transfers=transfers), batch=batch)
        batch.pipe.hincrby(self.keys.analytics("totals"), CHAIN_REFUSED, 1)
        batch.add()
        self.execute(batch)

    def append_event(self, transfer_id: str, call_sid: str, event: Mapping, *, batch: Batch | None = None) -> None:
        """Record an event that changes no state (e.g. 'voicemail-recorded')."""
        body = json.dumps({"at": utc_now_iso(), **event}, separators=(",", ":"))
        self.run("append", [self.keys.events(transfer_id), self.keys.event_feed()],
                  [transfer_id, call_sid, body, self.feed_cap, self.ttl], lambda raw: None, batch)

    def claim_deadlines(self, *, lease: float, limit: int = 200) -> list[str]:
        """Transfers whose deadline has passed, each leased to this caller for `lease` seconds."""
        return self.claim(self.keys.deadlines(), lease=lease, limit=limit)[1]

    def claim(self, index: str, *, lease: float, limit: int) -> tuple[str, list[str]]:
        """What has come due in a sorted-set index, leased for `lease` seconds: (the lease's end, ids)."""
        later, *due = self.run("claim", [index], [f"{time.time():.3f}", lease, limit], lambda r: [decode(x) for x in r])
        return later, due

    def overdue(self, *, slack: float) -> int:
        """How many deadlines passed more than `slack` seconds ago (health: is anyone sweeping?)."""
        return int(self.redis.zcount(self.keys.deadlines(), "-inf", time.time() - slack))

    def heartbeat(self, name: str) -> None:
        """A sweeper says it is alive."""
        self.redis.zadd(self.keys.sweepers(), {name: time.time()})

    def last_heartbeat(self) -> tuple[str, float] | None:
        """The most recent sweeper heartbeat: (name, epoch seconds)."""
        newest = self.redis.zrevrange(self.keys.sweepers(), 0, 0, withscores=True)
        return (decode(newest[0][0]), float(newest[0][1])) if newest else None


@dataclass(frozen=True)
class ChainSoFar:
    """A call's chain of transfers as call_context read it: how many, and the last one's id ('' = none)."""

    length: int
    last_id: str


def _logged(transfer_id: str, events: list[dict] | None,
            archived: Callable[[str], Transfer | None]) -> Callable[[list], Result]:
    """Parse a script's reply and log the applied events, one structured line each."""

    def parse(raw: list) -> Result:
        if decode(raw[0]) == "archived":     # finished long ago: refused, like any finished transfer
            # Read only if asked: a late webhook stays one round trip.
            return Result(verdict="refused", next="", fetch=lambda: archived(transfer_id))
        result = Result.parse(raw)
        if result.verdict in ("applied", "caller-gone") and events:
            for event in events:
                timeline_log.info(json.dumps({"transfer": transfer_id, **event}, default=str))
        return result

    return parse

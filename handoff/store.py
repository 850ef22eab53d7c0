"""Redis persistence for calls and transfers: every state change is one Lua script (atomic)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import redis

from .keys import Keys
from .state import TRANSITIONS, Outcome, TransferStatus

_LUA_DIR = Path(__file__).with_name("lua")
timeline_log = logging.getLogger("handoff.timeline")
DEFAULT_TTL = 7 * 24 * 3600          # every key expires a week after its last change
IDEMPOTENCY_TTL = 24 * 3600


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds (timeline timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _decode(value):
    return value.decode() if isinstance(value, bytes) else value


def _pairs(flat: list) -> dict[str, str]:
    flat = [_decode(v) for v in flat]
    return dict(zip(flat[0::2], flat[1::2]))


@dataclass(frozen=True)
class TransferRecord:
    """A transfer as stored: typed accessors over the Redis hash."""

    fields: Mapping[str, str]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def call_sid(self) -> str:
        return self.fields["call_sid"]

    @property
    def status(self) -> TransferStatus:
        return TransferStatus(self.fields["status"])

    @property
    def outcome(self) -> Outcome | None:
        value = self.fields.get("outcome")
        return Outcome(value) if value else None

    @property
    def mode(self) -> str:
        return self.fields.get("mode", "cold")

    @property
    def attempt(self) -> int:
        return int(self.fields.get("attempt", "0"))

    @property
    def attempts_total(self) -> int:
        return int(self.fields.get("attempts_total", "1"))

    @property
    def final(self) -> bool:
        return self.fields.get("final", "1") == "1"

    def json_field(self, name: str, default: Any = None) -> Any:
        """Decode a field stored as JSON."""
        value = self.fields.get(name)
        return json.loads(value) if value else default


@dataclass(frozen=True)
class CallContext:
    """What a transfer request needs to know about its call, read in one round trip."""

    call: dict[str, str] | None
    active_transfer_id: str | None
    variables: dict[str, str]
    idempotent_transfer_id: str | None


@dataclass(frozen=True)
class TransitionResult:
    """What a transition script answered: whether it applied, and the transfer after it."""

    verdict: str                      # applied | duplicate | stale | refused | missing
    next: str                         # '' | 'next' (fallback attempt due) | 'finished' | 'bridge-leg-ended'
    transfer: TransferRecord | None

    @property
    def applied(self) -> bool:
        return self.verdict == "applied"

    @classmethod
    def parse(cls, raw: list) -> "TransitionResult":
        verdict, nxt, *flat = [_decode(v) for v in raw]
        record = TransferRecord(_pairs(flat)) if flat else None
        return cls(verdict=verdict, next=nxt, transfer=record)


@dataclass(frozen=True)
class CreateResult:
    """What the create script answered: created, idempotent (a retry), conflict or no-call."""

    verdict: str
    transfer_id: str


class _Script:
    """A Lua script with the shared prelude, run with EVALSHA; reloaded if Redis forgot it."""

    def __init__(self, name: str):
        prelude = (_LUA_DIR / "common.lua").read_text()
        self.source = prelude + "\n" + (_LUA_DIR / f"{name}.lua").read_text()
        import hashlib

        self.sha = hashlib.sha1(self.source.encode()).hexdigest()


@dataclass
class Batch:
    """Commands sent to Redis in one round trip; `parsers` turn raw replies into results."""

    pipe: Any
    parsers: list[Callable[[Any], Any]] = field(default_factory=list)

    def add(self, parser: Callable[[Any], Any] = lambda raw: raw) -> None:
        self.parsers.append(parser)


class Store:
    """Calls and transfers in Redis, under one key prefix, with TTLs on everything."""

    _SCRIPT_NAMES = ("create", "transition", "leg", "call_ended")

    def __init__(self, connection: redis.Redis, *, keys: Keys, ttl: int = DEFAULT_TTL):
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.redis = connection
        self.keys = keys
        self.ttl = ttl
        self._scripts = {name: _Script(name) for name in self._SCRIPT_NAMES}

    # -- plumbing -------------------------------------------------------------------------------
    def load_scripts(self) -> None:
        """Register the Lua scripts with Redis (done once at start-up and after a NOSCRIPT)."""
        for script in self._scripts.values():
            self.redis.script_load(script.source)

    def _evalsha(self, target, name: str, keys: list[str], args: list) -> Any:
        script = self._scripts[name]
        return target.evalsha(script.sha, len(keys), *keys, *args)

    def batch(self) -> Batch:
        """A pipeline to group a transition with an RQ enqueue in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        # Explicit MULTI up front: RQ's enqueue(pipeline=...) calls multi() itself unless it is set.
        pipe.multi()
        return Batch(pipe=pipe)

    def execute(self, batch: Batch) -> list:
        """Send the batch; reload scripts and resend once if Redis had forgotten them."""
        saved = list(batch.pipe.command_stack)
        for attempt in (1, 2):
            replies = batch.pipe.execute(raise_on_error=False)
            if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies) and attempt == 1:
                # Redis restarted or SCRIPT FLUSH: the jobs queued alongside are idempotent, so
                # sending the batch again is safe.
                self.load_scripts()
                batch.pipe.multi()
                batch.pipe.command_stack = list(saved)
                continue
            break
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise errors[0]
        return [parse(raw) for parse, raw in zip(batch.parsers, replies)]

    def _run(self, name: str, keys: list[str], args: list, parse: Callable, batch: Batch | None):
        if batch is not None:
            self._evalsha(batch.pipe, name, keys, args)
            batch.add(parse)
            return None
        try:
            return parse(self._evalsha(self.redis, name, keys, args))
        except redis.exceptions.NoScriptError:
            self.load_scripts()
            return parse(self._evalsha(self.redis, name, keys, args))

    # -- calls ----------------------------------------------------------------------------------
    def record_call(self, call_sid: str, fields: Mapping[str, str], *, batch: Batch | None = None) -> None:
        """Create or update what we know of a call."""
        target = batch.pipe if batch is not None else self.redis.pipeline(transaction=False)
        key = self.keys.call(call_sid)
        target.hset(key, mapping={k: v for k, v in fields.items() if v is not None})
        target.expire(key, self.ttl)
        if batch is not None:
            batch.add()
            batch.add()
        else:
            target.execute()

    def get_call(self, call_sid: str) -> dict[str, str] | None:
        """The call's hash, or None if unknown."""
        data = self.redis.hgetall(self.keys.call(call_sid))
        return {_decode(k): _decode(v) for k, v in data.items()} or None

    def call_context(self, call_sid: str, *, idempotency_key: str | None = None) -> CallContext:
        """The call, its transfer in flight, its variables and an earlier Idempotency-Key's transfer."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.call(call_sid))
        pipe.get(self.keys.call_active(call_sid))
        pipe.hgetall(self.keys.call_variables(call_sid))
        pipe.get(self.keys.idempotency(idempotency_key or "-"))
        call, active, variables, idempotent = pipe.execute()
        return CallContext(call={_decode(k): _decode(v) for k, v in call.items()} or None,
                           active_transfer_id=_decode(active),
                           variables={_decode(k): _decode(v) for k, v in variables.items()},
                           idempotent_transfer_id=_decode(idempotent) if idempotency_key else None)

    def call_transfer_ids(self, call_sid: str) -> list[str]:
        """Ids of the call's transfers, oldest first."""
        return [_decode(v) for v in self.redis.lrange(self.keys.call_transfers(call_sid), 0, -1)]

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
        return {_decode(k): _decode(v) for k, v in self.redis.hgetall(self.keys.call_variables(call_sid)).items()}

    # -- transfers ------------------------------------------------------------------------------
    def create_transfer(self, fields: Mapping[str, str], *, event: Mapping, idempotency_key: str | None,
                        require_call: bool = True) -> CreateResult:
        """Store a new transfer atomically unless it is a retry or another is in flight."""
        transfer_id, call_sid = fields["id"], fields["call_sid"]
        keys = [self.keys.call(call_sid), self.keys.call_active(call_sid),
                self.keys.idempotency(idempotency_key or "-"), self.keys.transfer(transfer_id),
                self.keys.timeline(transfer_id), self.keys.call_transfers(call_sid)]
        flat: list[str] = []
        for k, v in fields.items():
            flat += [k, str(v)]
        args = [transfer_id, self.ttl, _event_json(event, utc_now_iso()), "1" if idempotency_key else "0",
                "1" if require_call else "0", IDEMPOTENCY_TTL, *flat]
        raw = self._run("create", keys, args, lambda r: [_decode(x) for x in r], None)
        return CreateResult(verdict=raw[0], transfer_id=raw[1])

    def transition(self, transfer_id: str, *, allowed_from: Iterable[TransferStatus] | str, to: str = "",
                   outcome: Outcome | None = None, detail: str = "", event: Mapping | None = None,
                   event_id: str = "", attempt: int | None = None, fields: Mapping[str, str] | None = None,
                   require_outcome: bool = False, batch: Batch | None = None) -> TransitionResult | None:
        """Apply one event atomically (see lua/transition.lua); returns None when batched."""
        if not isinstance(allowed_from, str):
            allowed_from = list(allowed_from)
            _check_moves(allowed_from, to)
        allowed = allowed_from if isinstance(allowed_from, str) else " ".join(s.value for s in allowed_from)
        keys = [self.keys.transfer(transfer_id), self.keys.timeline(transfer_id), self.keys.seen(transfer_id)]
        now = utc_now_iso()
        flat: list[str] = []
        for k, v in (fields or {}).items():
            flat += [k, str(v)]
        event_json = _event_json(event, now)
        args = [event_id, "" if attempt is None else str(attempt), allowed, to,
                outcome.value if outcome else "", detail, event_json, self.ttl, now,
                "require-outcome" if require_outcome else "", *flat]
        return self._run("transition", keys, args, _logged(transfer_id, event_json), batch)

    def leg_event(self, transfer_id: str, *, attempt: int, leg_sid: str, state: str, outcome: Outcome | None = None,
                  detail: str = "", event: Mapping | None = None, event_id: str = "", status: str = "",
                  require_leg_state: str = "", outcome_if_answered: Outcome | None = None,
                  batch: Batch | None = None) -> TransitionResult | None:
        """Record a recipient leg's progress; the last leg of an attempt ending fails the attempt."""
        keys = [self.keys.transfer(transfer_id), self.keys.timeline(transfer_id), self.keys.seen(transfer_id),
                self.keys.legs(transfer_id)]
        now = utc_now_iso()
        event_json = _event_json(event, now)
        args = [event_id, str(attempt), leg_sid, state, outcome.value if outcome else "", detail,
                event_json, self.ttl, now, status, require_leg_state,
                outcome_if_answered.value if outcome_if_answered else ""]
        return self._run("leg", keys, args, _logged(transfer_id, event_json), batch)

    def call_ended(self, call_sid: str, *, call_status: str) -> TransitionResult:
        """The caller's call ended: cancel its transfer in flight, or complete a bridged one."""
        now = utc_now_iso()
        keys = [self.keys.call(call_sid), self.keys.call_active(call_sid)]
        args = [call_status, now, self.ttl, self.keys.transfer("{id}"), self.keys.timeline("{id}"),
                _event_json({"event": "caller-hung-up", "call_status": call_status}, now)]
        return self._run("call_ended", keys, args, TransitionResult.parse, None)

    def claim(self, transfer_id: str, what: str) -> bool:
        """Atomically claim a one-off action on a transfer (e.g. its last resort); True only once."""
        return bool(self.redis.hsetnx(self.keys.transfer(transfer_id), f"claimed_{what}", utc_now_iso()))

    def get_transfer(self, transfer_id: str) -> TransferRecord | None:
        """The transfer, or None if unknown (or expired)."""
        data = self.redis.hgetall(self.keys.transfer(transfer_id))
        return TransferRecord({_decode(k): _decode(v) for k, v in data.items()}) if data else None

    def get_transfer_with_timeline(self, transfer_id: str) -> tuple[TransferRecord | None, list[dict]]:
        """The transfer and its timeline in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.transfer(transfer_id))
        pipe.lrange(self.keys.timeline(transfer_id), 0, -1)
        data, timeline = pipe.execute()
        if not data:
            return None, []
        record = TransferRecord({_decode(k): _decode(v) for k, v in data.items()})
        return record, [json.loads(_decode(item)) for item in timeline]

    def legs(self, transfer_id: str) -> dict[str, tuple[int, str]]:
        """Recipient legs of the transfer: call SID -> (attempt, state)."""
        result = {}
        for sid, value in self.redis.hgetall(self.keys.legs(transfer_id)).items():
            attempt, _, state = _decode(value).partition(":")
            result[_decode(sid)] = (int(attempt), state)
        return result

    def append_event(self, transfer_id: str, event: Mapping) -> None:
        """Append a timeline event that changes no state (e.g. 'returned-to-agent')."""
        key = self.keys.timeline(transfer_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(key, _event_json(event, utc_now_iso()))
        pipe.expire(key, self.ttl)
        pipe.execute()


def _check_moves(sources: list[TransferStatus], to: str) -> None:
    """Refuse, as a programming error, a transition the state machine does not allow."""
    if to in ("", "fail-attempt"):
        target = TransferStatus.DIALING if to == "fail-attempt" else None
    else:
        target = TransferStatus(to)
    for source in sources:
        allowed = TRANSITIONS[source] | ({TransferStatus.COMPLETED} if to == "fail-attempt" else set())
        if target is not None and target is not source and target not in allowed:
            raise ValueError(f"transition {source.value} -> {target.value} is not in handoff.state.TRANSITIONS")


def _logged(transfer_id: str, event_json: str) -> Callable[[list], TransitionResult]:
    """Parse a script's reply and log the applied event as one structured line."""

    def parse(raw: list) -> TransitionResult:
        result = TransitionResult.parse(raw)
        if event_json and result.applied:
            timeline_log.info('{"transfer":"%s",%s', transfer_id, event_json[1:])
            if result.next == "finished" and result.transfer is not None:
                timeline_log.info(json.dumps({"transfer": transfer_id, "event": "completed",
                                              "at": result.transfer.fields.get("finished_at"),
                                              "outcome": result.transfer.fields.get("outcome"),
                                              "detail": result.transfer.fields.get("outcome_detail")}))
        return result

    return parse


def _event_json(event: Mapping | None, now: str) -> str:
    if not event:
        return ""
    return json.dumps({"at": now, **event}, separators=(",", ":"))

"""Every Redis key and conference name Handoff uses, built from one prefix (as rq does).

A transfer's keys carry its id as a hash tag (`{tr_...}`) and a call's keys its SID (`{CA...}`), so each
one's keys share one Redis Cluster hash slot (tests/cluster/ shows what that does and does not allow)."""
from __future__ import annotations

from dataclasses import dataclass


def decode(value, errors: str = "strict"):
    """A Redis reply's bytes as str (with `errors` as bytes.decode takes it); anything else as it is."""
    return value.decode(errors=errors) if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Keys:
    """Key builder; one instance per deployment prefix (tests use a fresh prefix each)."""

    prefix: str = "handoff"

    def __post_init__(self):
        if not self.prefix or any(c.isspace() or c in "{}" for c in self.prefix):
            # braces would make the prefix the hash tag: every key in one Redis Cluster slot
            raise ValueError("key prefix must be a non-empty string without spaces or braces")

    # -- calls --------------------------------------------------------------------------------
    def call(self, call_sid: str) -> str:
        """Hash: what we know of a live call (from, to, sip, status, variables)."""
        return f"{self.prefix}:call:{{{call_sid}}}"

    def call_transfers(self, call_sid: str) -> str:
        """List: ids of the call's transfers, oldest first."""
        return f"{self.prefix}:call:{{{call_sid}}}:transfers"

    def call_active(self, call_sid: str) -> str:
        """String: id of the call's transfer in flight (the 409 guard)."""
        return f"{self.prefix}:call:{{{call_sid}}}:active"

    def call_variables(self, call_sid: str) -> str:
        """Hash: variables set for the call through PUT /api/calls/{sid}/variables."""
        return f"{self.prefix}:call:{{{call_sid}}}:variables"

    # -- transfers ----------------------------------------------------------------------------
    def transfer(self, transfer_id: str) -> str:
        """Hash: the transfer's fields (status, outcome, plan, attempt, deadline, ...), until archived."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}"

    def events(self, transfer_id: str) -> str:
        """Stream: the transfer's events, in order (handoff/events.py); the same ids as in the feed."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}:events"

    def seen(self, transfer_id: str) -> str:
        """Set of callback event ids already applied (duplicate callbacks are no-ops)."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}:seen"

    def legs(self, transfer_id: str) -> str:
        """Hash: recipient leg call SID -> 'attempt:state' for the transfer's outbound legs."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}:legs"

    def texts(self, transfer_id: str) -> str:
        """Hash: the transfer's SMS bookkeeping (handoff/texts.py): each purpose's claim and each delivery
        status already recorded, so a duplicate job or callback records nothing twice."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}:texts"

    def archive(self, transfer_id: str) -> str:
        """String: a finished transfer folded into one compressed record (handoff/archive.py): its fields and
        events; replaces the five keys above once it has been settled for a while."""
        return f"{self.prefix}:transfer:{{{transfer_id}}}:archive"

    def transfer_slot_keys(self, transfer_id: str) -> list[str]:
        """Every key one transfer may own (all in the hash slot of `{transfer_id}`)."""
        return [self.transfer(transfer_id), self.events(transfer_id), self.seen(transfer_id), self.legs(transfer_id),
                self.texts(transfer_id), self.archive(transfer_id)]

    def idempotency(self, key: str) -> str:
        """Hash: transfer id and request fingerprint stored under an Idempotency-Key (scoped per call)."""
        return f"{self.prefix}:idem:{key}"

    def transfer_keys(self, transfer_id: str, call_sid: str, hour: str) -> list[str]:
        """The keys every transition script declares, in the order the scripts read them."""
        return [self.transfer(transfer_id), self.events(transfer_id), self.seen(transfer_id),
                self.legs(transfer_id), self.deadlines(), self.call(call_sid), self.call_active(call_sid),
                self.event_feed(), self.analytics(hour), self.analytics("totals"), self.archive(transfer_id),
                self.archives()]

    # -- callback requests (handoff/callbacks.py) ------------------------------------------------
    def callback(self, callback_id: str) -> str:
        """String: one callback request (JSON: the caller's number, variables, reason), kept CALLBACK_TTL."""
        return f"{self.prefix}:callback:{callback_id}"

    def callbacks_index(self) -> str:
        """Sorted set: callback request id -> epoch second it was taken (GET /api/callbacks)."""
        return f"{self.prefix}:index:callbacks"

    # -- listings, events, analytics, audit -----------------------------------------------------
    def transfers_index(self) -> str:
        """Sorted set: transfer id -> epoch second it was requested (GET /api/transfers)."""
        return f"{self.prefix}:index:transfers"

    def calls_index(self) -> str:
        """Sorted set: call SID -> epoch second it was first seen (GET /api/calls)."""
        return f"{self.prefix}:index:calls"

    def event_feed(self) -> str:
        """Stream: every transfer's events, capped; the one place every consumer reads."""
        return f"{self.prefix}:events"

    def event_group(self) -> str:
        """The feed's consumer group read by the workers' dispatchers (metrics, logs, event webhooks)."""
        return f"{self.prefix}-dispatch"

    def analytics(self, hour: str) -> str:
        """Hash: one UTC hour's aggregates ('YYYYMMDDHH'), written with the outcome (lua/analytics.lua)."""
        return f"{self.prefix}:analytics:{hour}"

    def audit(self) -> str:
        """Stream: API actions and recipients-file reloads (who, what, when, from where), capped."""
        return f"{self.prefix}:audit"

    def deliveries(self) -> str:
        """Sorted set: event-webhook deliveries waiting for their next try -> epoch second it is due."""
        return f"{self.prefix}:deliveries"

    def delivery(self, event_id: str) -> str:
        """Hash: one event-webhook delivery (the event, tries, last error), until delivered or given up."""
        return f"{self.prefix}:delivery:{event_id}"

    # -- deadlines, processes, queues -----------------------------------------------------------
    def deadlines(self) -> str:
        """Sorted set: transfer id -> epoch second its current deadline passes (the recovery index)."""
        return f"{self.prefix}:deadlines"

    def archives(self) -> str:
        """Sorted set: finished transfer id -> epoch second it is due to be archived (handoff/archive.py)."""
        return f"{self.prefix}:archives"

    def sweepers(self) -> str:
        """Sorted set: sweeper name -> epoch second of its last heartbeat (/healthz reads it)."""
        return f"{self.prefix}:sweepers"

    def queue_name(self, name: str = "transfers") -> str:
        """RQ queue name, namespaced so several deployments can share one Redis."""
        return f"{self.prefix}-{name}"

    def conference(self, transfer_id: str) -> str:
        """The friendly name of a warm transfer's conference room."""
        return f"{self.prefix}-{transfer_id}"

"""Every Redis key Handoff uses, built from one namespaced prefix (as rq does)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builder; one instance per deployment prefix (tests use a fresh prefix each)."""

    prefix: str = "handoff"

    def __post_init__(self):
        if not self.prefix or any(c.isspace() for c in self.prefix):
            raise ValueError("key prefix must be a non-empty string without spaces")

    def call(self, call_sid: str) -> str:
        """Hash: what we know of a live call (from, to, sip, agent parameters, variables)."""
        return f"{self.prefix}:call:{call_sid}"

    def call_transfers(self, call_sid: str) -> str:
        """List: ids of the call's transfers, oldest first."""
        return f"{self.prefix}:call:{call_sid}:transfers"

    def call_active(self, call_sid: str) -> str:
        """String: id of the call's transfer in flight (the 409 guard)."""
        return f"{self.prefix}:call:{call_sid}:active"

    def call_variables(self, call_sid: str) -> str:
        """Hash: variables set for the call through PUT /api/calls/{sid}/variables."""
        return f"{self.prefix}:call:{call_sid}:variables"

    def transfer(self, transfer_id: str) -> str:
        """Hash: the transfer's fields (status, outcome, plan, attempt, ...)."""
        return f"{self.prefix}:transfer:{transfer_id}"

    def timeline(self, transfer_id: str) -> str:
        """List of JSON events, appended in order."""
        return f"{self.prefix}:transfer:{transfer_id}:timeline"

    def seen(self, transfer_id: str) -> str:
        """Set of callback event ids already applied (duplicate callbacks are no-ops)."""
        return f"{self.prefix}:transfer:{transfer_id}:seen"

    def legs(self, transfer_id: str) -> str:
        """Hash: recipient leg call SID -> 'attempt|state' for the transfer's outbound legs."""
        return f"{self.prefix}:transfer:{transfer_id}:legs"

    def idempotency(self, key: str) -> str:
        """String: transfer id created under an Idempotency-Key (scoped per call by the caller)."""
        return f"{self.prefix}:idem:{key}"

    def queue_name(self, name: str = "transfers") -> str:
        """RQ queue name, namespaced so several deployments can share one Redis."""
        return f"{self.prefix}-{name}"

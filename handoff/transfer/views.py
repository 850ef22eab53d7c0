"""Read models: a transfer and a call as the API shows them (secrets never leave Redis)."""
from __future__ import annotations

import json
from typing import Sequence

from ..events import Event
from ..record import Transfer
from ..store import Store
from ..texts import LITERAL
from . import chain

INTERNAL_CONTEXT = frozenset({LITERAL})    # bookkeeping kept in the context, never shown to an agent


def present_transfer(t: Transfer, events: Sequence[Event]) -> dict:
    """JSON view of a transfer for the API."""
    attempts = [a.to_json() for a in t.attempts]
    for attempt in attempts:
        for target in attempt.get("targets", []):
            if target.get("sip_password"):
                target["sip_password"] = "***"
    f = t.fields
    return {
        "id": t.id, "call_sid": t.call_sid, "mode": t.mode.value, "status": t.status.value,
        "outcome": t.outcome.value if t.outcome else None, "outcome_detail": t.outcome_detail or None,
        "to": t.to, "reason": t.reason or None, "final": t.final, "attempt": t.attempt, "attempts": attempts,
        "caller_id": t.caller_id or None, "caller": t.caller.value,
        "waiting_for": t.deadline_kind.value if t.deadline_kind else None,
        "created_at": f.get("created_at"), "finished_at": f.get("finished_at") or None,
        "routing": json.loads(f.get("reasons") or "[]"), "rule": f.get("rule") or None,
        "clock_at": f.get("clock_at") or None,
        # Chained transfers: the call's transfer before this one, and this one's place (1-based).
        "previous_transfer_id": chain.position(t)[1], "chain_index": chain.position(t)[0],
        "timeline": [e.to_dict() for e in events],
    }


class Views:
    """What the API reads."""

    def __init__(self, store: Store):
        self.store = store

    def transfer(self, transfer_id: str) -> dict | None:
        """The transfer: status, outcome, targets and timeline."""
        t, events = self.store.get_transfer_with_events(transfer_id)
        return present_transfer(t, events) if t else None

    def call(self, call_sid: str) -> dict | None:
        """A call with its transfers, oldest first."""
        call = self.store.get_call(call_sid)
        if call is None:
            return None
        found = (self.store.get_transfer_with_events(i) for i in self.store.call_transfer_ids(call_sid))
        records = [(t, events) for t, events in found if t is not None]
        transfers = [present_transfer(t, events) for t, events in records]
        links = [{**link, "url": f"/api/transfers/{link['transfer_id']}"}
                 for link in chain.links([t for t, _ in records])]
        # The CallToken lets a leg present the caller's number: it stays inside Handoff.
        return {"sid": call_sid, **{k: v for k, v in call.items() if k not in ("sip", "call_token")},
                "sip": call.get("sip") == "1",
                "variables": self.store.get_call_variables(call_sid), "transfers": transfers, "chain": links}

    def context(self, transfer_id: str) -> dict | None:
        """The conversation context handed to a receiving agent: the conversation so far across the call's
        chain of transfers (`transcript`) and the earlier transfers (`history`, oldest first)."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            return None
        return {"transfer_id": t.id, "call_sid": t.call_sid, "reason": t.reason or None,
                "summary": t.summary or None, "variables": t.variables,
                **{k: v for k, v in t.context.items() if k not in INTERNAL_CONTEXT},
                **chain.accumulated(self.store, t)}

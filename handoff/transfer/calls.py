"""The caller's own call: arriving, ending, and the agent session that may ask for a hand-off."""
from __future__ import annotations

from ..record import Transfer
from ..state import CALL_ENDED
from ..store import utc_now_iso
from ..transfer_request import TransferRequest
from . import decisions as d
from .context import Context
from .lifecycle import Lifecycle, nobody_to_dial
from .requests import IdempotencyMismatch, Requests, TransferConflict, TransferRefused, UnknownCall


class Calls:
    """Call bookkeeping and the agent's HandoffData."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle, requests: Requests):
        self.ctx = ctx
        self.store = ctx.store
        self.lifecycle = lifecycle
        self.requests = requests

    def incoming(self, *, call_sid: str, from_: str, to: str, direction: str | None,
                 call_token: str | None = None) -> d.ConnectAgent:
        """Record a new call and connect the caller to the AI agent."""
        self.store.record_call(call_sid, {"from": from_, "to": to, "direction": direction or "inbound",
                                          "sip": "1" if from_.startswith("sip:") else "0", "status": "in-progress",
                                          "created_at": utc_now_iso(),
                                          # Twilio's CallToken: a warm leg may present the caller's number with it.
                                          **({"call_token": call_token} if call_token else {})})
        agent = self.ctx.agent
        return d.ConnectAgent(agent.kind, agent.url, self.ctx.urls.agent_ended(),
                              {"call_sid": call_sid, "caller": from_})

    def status(self, *, call_sid: str, status: str) -> None:
        """A status callback for the caller's call; an ended call cancels its transfer in flight."""
        if status in CALL_ENDED:
            self.lifecycle.call_ended(call_sid, status)

    def agent_ended(self, *, call_sid: str, request: TransferRequest | None, invalid: str | None = None) -> d.Decision:
        """Connect's action: the agent session ended, possibly asking for a transfer (HandoffData)."""
        if invalid:
            return self.lifecycle.agent(None, call_sid=call_sid, outcome="transfer-refused", detail=invalid)
        if request is None:
            return d.Hangup()
        try:
            fields, _, digest = self.requests.prepare(call_sid, request, idempotency_key=None, via="handoff")
        except (TransferRefused, TransferConflict, UnknownCall, IdempotencyMismatch) as exc:
            return self.lifecycle.agent(None, call_sid=call_sid, outcome="transfer-refused",
                                        detail=getattr(exc, "message", str(exc)))
        t = Transfer.parse({name: str(value) for name, value in fields.items()})
        # Nobody to dial (closed hours, a callback to offer): it ends as it starts, and this answer is the offer.
        nobody = nobody_to_dial(fields)
        change, decision = (None, None) if nobody else self.lifecycle.modes.of(t).first_document(t)
        batch = self.store.batch()
        self.lifecycle.start(fields, event=self.requests.requested_event(request, fields, "handoff"),
                             idempotency_key=None, fingerprint=digest, batch=batch,
                             inline_return=self.lifecycle.inline_return if nobody else False)
        if change is not None:
            self.store.apply(t.id, call_sid, change, batch=batch)
        replies = self.store.execute(batch)
        created = replies[0]
        if created.verdict == "chain-limit":    # reached since prepare read the chain: create.lua recorded it
            refused = self.requests.chain_limit(call_sid, created.detail, int(created.chain or 0),
                                                to=request.to, via="handoff")
            return self.lifecycle.agent(None, call_sid=call_sid, outcome="transfer-refused", detail=str(refused))
        if created.verdict != "created":
            return self.lifecycle.agent(None, call_sid=call_sid, outcome="transfer-refused",
                                        detail=f"the transfer could not start ({created.verdict})")
        if nobody:
            ended = replies[1].transfer
            return self.lifecycle.caller_next(ended) if ended else d.Hangup()
        return decision

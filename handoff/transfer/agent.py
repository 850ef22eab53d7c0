"""Agent hand-off: the call moves to another AI agent, with the whole context one request away."""
from __future__ import annotations

import json

from ..config import AgentConnection
from ..record import Transfer
from ..state import ANSWERED, CallerAt, Outcome, Stamp, TransferStatus
from ..changes import Change
from . import decisions as d
from .modes import ModeBase


class AgentMode(ModeBase):
    """A hand-off succeeds once the caller is connected to the receiving agent."""

    def caller_document(self, t: Transfer) -> d.ConnectAgent:
        """Connect the caller to the receiving agent, with the hand-off's context as parameters."""
        agent = AgentConnection.parse(t.current.targets[0].address, variable="recipient address")
        transcript = t.context.get("transcript")
        parameters = {"handoff_transfer_id": t.id, "handoff_reason": t.reason, "handoff_summary": t.summary,
                      "handoff_variables": json.dumps(t.variables) if t.variables else None,
                      "handoff_context_url": self.ctx.urls.context(t.id),
                      "handoff_transcript": json.dumps(transcript)[:4000] if transcript else None,
                      # Chained transfers: the hand-off before this one (its context URL has the whole history).
                      "handoff_previous_transfer_id": t.fields.get("previous_id") or None,
                      "handoff_chain_index": str(t.fields.get("chain_index") or "") or None}
        return d.ConnectAgent(agent.kind, agent.url, self.ctx.urls.agent_ended(),
                              {k: v for k, v in parameters.items() if v}, message=t.message or None)

    def handed_off(self, t: Transfer) -> Change:
        """The change that records the hand-off as done."""
        return Change(event={"event": "handed-to-agent", "target": t.current.describe()},
                      sources=[TransferStatus.REQUESTED], to="completed", outcome=Outcome.SUCCESS,
                      detail="handed to agent", caller=CallerAt.BRIDGED, stamps=(Stamp.DIALED, *ANSWERED))

    def inline_first(self, t: Transfer) -> tuple[Change, d.Decision]:
        return self.handed_off(t), self.caller_document(t)

    def start(self, t: Transfer) -> None:
        """Job: move the caller to the receiving agent; then the hand-off has succeeded."""
        if self.move_caller(t, self.caller_document(t)):
            self.store.apply(t.id, t.call_sid, self.handed_off(t))

    def dial(self, t: Transfer) -> None:
        """An agent hand-off has a single step: its start."""
        self.start(t)

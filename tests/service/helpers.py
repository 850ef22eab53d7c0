"""Small assertions shared by the end-to-end tests (they read the simulator, never our internals)."""
from __future__ import annotations


def events(transfer: dict) -> list[str]:
    """The names of a transfer's timeline events, in order."""
    return [e["event"] for e in transfer["timeline"]]


def back_with_agent(sim, call_sid: str, outcome: str | None = None):
    """Wait until the caller is with the AI agent again (told `outcome`, when given)."""

    def check():
        call = sim.call(call_sid)
        if call["activity"] != "with-agent" or call["agent"]["sessions"] < 2:
            return None
        if outcome and call["agent"]["parameters"].get("transfer_outcome") != outcome:
            return None
        return call

    return sim.wait_for(check, timeout=10, message=f"caller back with the agent ({outcome})")


def rest_requests_for(sim, call_sid: str) -> list[dict]:
    """REST requests the service sent about one call (e.g. its calls(sid).update)."""
    return [r for r in sim.requests() if call_sid in r["path"]]

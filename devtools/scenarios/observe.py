"""What happened in a scenario, read back from the service (the transfer, its events) and the
simulator (the caller, each recipient leg and what every party heard)."""
from __future__ import annotations

from dataclasses import dataclass, field

from simulator.model import FINAL_STATUSES
from simulator.parties import normalize_address

from .endpoint import Endpoint

IN_CONFERENCE = ("in-conference",)
STEP_EVENTS = ("dialing", "handed-to-agent")   # a step of the plan reached: its targets dialed or connected


@dataclass(frozen=True)
class Refusal:
    """The service declined to start the transfer: nobody to dial, or a request it cannot carry out."""

    via: str              # api | tool | handoff_data
    message: str          # the service's reason (the API's error message, the agent's transfer_detail)
    status: int | None = None    # the HTTP status (api, tool)
    sentence: str = ""    # the tool endpoint's sentence for the LLM

    def matches(self, text: str) -> bool:
        """Whether `text` is in the refusal's words (any case): its message or the tool's sentence."""
        return any(text.casefold() in words.casefold() for words in (self.message, self.sentence) if words)

    def __str__(self) -> str:
        how = {"api": "POST /api/calls/{sid}/transfers answered", "tool": "POST /api/tools/transfer_call answered",
               "handoff_data": "the agent's HandoffData was refused"}[self.via]
        return f"{how}{f' {self.status}' if self.status else ''}: {self.message}"


@dataclass
class Leg:
    """A call the simulator placed to a recipient for this scenario's transfer."""

    sid: str
    address: str
    name: str | None
    call: dict
    heard: list[dict]

    @property
    def label(self) -> str:
        return self.name or self.address


@dataclass
class Observation:
    """Everything the expectations are checked against, and what a failure report shows."""

    transfer: dict | None
    caller: dict
    caller_address: str
    caller_heard: list[dict]
    caller_timeline: list[dict]
    legs: list[Leg]
    names: dict[str, str]                 # normalised address -> recipient name
    agent_url: str | None                 # the agent the caller was with before the transfer
    calls: list[dict] = field(default_factory=list)
    settled: bool = True
    refusal: Refusal | None = None        # the service refused to start the transfer (then no transfer)

    # --- the transfer ---------------------------------------------------------------------------
    @property
    def events(self) -> list[dict]:
        return (self.transfer or {}).get("timeline") or []

    @property
    def outcome(self) -> str | None:
        return (self.transfer or {}).get("outcome")

    @property
    def hold_seconds(self) -> float | None:
        """The caller's hold time from the outcome's report (None when the caller never waited)."""
        for event in reversed(self.events):
            if event.get("event") in ("outcome", "completed") and event.get("hold_seconds") is not None:
                return float(event["hold_seconds"])
        return None

    def whispers(self) -> list[str]:
        """What the transfer whispered to recipients (from its events)."""
        return [str(e.get("text") or e.get("whisper") or "") for e in self.events
                if e.get("event") in ("whisper-prepared", "whisper-started")]

    def name_of(self, address: str | None) -> str | None:
        return self.names.get(normalize_address(address)) if address else None

    def path(self) -> list[list[set[str]]]:
        """Each step dialed (or handed to an agent), in order: per target, the labels that name it.

        A target's labels are its address, the recipient the service names, the recipient the
        recipients file has at that address, and for a dynamic step the dynamic recipient's name."""
        transfer = self.transfer or {}
        attempts = transfer.get("attempts") or []
        steps = []
        for event in self.events:
            if event.get("event") not in STEP_EVENTS:
                continue
            index = event.get("attempt")
            if index is None:
                index = transfer.get("attempt")
            attempt = attempts[index] if isinstance(index, int) and 0 <= index < len(attempts) else {}
            step = []
            for target in attempt.get("targets") or []:
                address = target.get("address") or ""
                labels = {address, target.get("recipient") or "", self.name_of(address) or "",
                          attempt.get("dynamic") or ""}
                step.append({label for label in labels if label})
            if not step and attempt.get("dynamic"):
                step.append({attempt["dynamic"]})
            if not step:
                step = [{t} for t in event.get("targets") or [event.get("target") or "?"]]
            steps.append(step)
        return steps

    # --- the parties ----------------------------------------------------------------------------
    def heard_by(self, label: str) -> list[dict]:
        """What a recipient heard on every leg that reached it (retries included), in order."""
        wanted = normalize_address(label)
        return [entry for leg in self.legs if leg.name == label or normalize_address(leg.address) == wanted
                for entry in leg.heard]

    def caller_end(self) -> tuple[set[str], str]:
        """Where the caller is now: the labels that name it, and a few words for the report."""
        call = self.caller
        if call.get("status") in FINAL_STATUSES:
            refer = next((e for e in reversed(self.caller_timeline) if e.get("type") == "refer"), None)
            hangup = next((e for e in reversed(self.caller_timeline) if e.get("type") == "hangup"), {})
            if refer is not None and hangup.get("by") == "refer":
                target = refer.get("to") or ""
                name = self.name_of(target)
                return {label for label in (name, normalize_address(target), "hung-up") if label}, \
                    f"referred to {name or target} (its call left Twilio)"
            who = {"party": "the caller hung up"}.get(hangup.get("by"), f"the call ended ({call.get('status')})")
            return {"hung-up"}, who
        activity = call.get("activity")
        if activity == "with-agent":
            url = (call.get("agent") or {}).get("url")
            if url and url == self.agent_url:
                return {"agent"}, "back with the agent"
            name = self.name_of(url)
            return {label for label in (name, url) if label}, f"with the agent {name or url}"
        if activity == "bridged":
            leg = next((c for c in self.calls if c.get("sid") == call.get("bridged_with")), None)
            address = (leg or {}).get("to") or ""
            name = self.name_of(address)
            return {label for label in (name, normalize_address(address)) if label}, f"bridged with {name or address}"
        conference = call.get("conference")
        if conference and activity in IN_CONFERENCE:
            others = [c for c in self.calls if c.get("conference") == conference and c.get("sid") != call.get("sid")
                      and c.get("activity") in IN_CONFERENCE and c.get("status") not in FINAL_STATUSES]
            labels = set()
            for other in others:
                name = self.name_of(other.get("to"))
                labels |= {label for label in (name, normalize_address(other.get("to") or "")) if label}
            if labels:
                return labels, "in a conference with " + ", ".join(sorted(self.name_of(o.get("to")) or o.get("to")
                                                                         for o in others))
            return set(), "alone in the conference"
        return set(), f"{activity or 'unknown'} (not settled)"


def observe(endpoint: Endpoint, *, transfer_id: str | None, caller_sid: str, caller_address: str,
            agent_number: str, names: dict[str, str], agent_url: str | None, settled: bool,
            refusal: Refusal | None = None) -> Observation:
    """Read everything back once the scenario has settled (or given up waiting)."""
    transfer = endpoint.api("GET", f"/transfers/{transfer_id}") if transfer_id else None
    calls = endpoint.sim("GET", "/calls") or []
    caller = next((c for c in calls if c.get("sid") == caller_sid), None) or endpoint.sim("GET", f"/calls/{caller_sid}")
    names = {normalize_address(address): name for name, address in names.items()}
    for attempt in (transfer or {}).get("attempts") or []:     # what the service dialed, dynamic ones included
        for target in attempt.get("targets") or []:
            if target.get("address") and target.get("recipient"):
                names.setdefault(normalize_address(target["address"]), target["recipient"])
    event_legs = {e.get("leg") for e in (transfer or {}).get("timeline") or [] if e.get("leg")}
    legs = []
    for call in calls:
        if call.get("sid") == caller_sid:
            continue
        if call.get("sid") in event_legs or call.get("parent_call_sid") == caller_sid or call.get("from") == agent_number:
            address = call.get("to") or ""
            legs.append(Leg(sid=call["sid"], address=address, name=names.get(normalize_address(address)), call=call,
                            heard=endpoint.sim("GET", f"/calls/{call['sid']}/heard") or []))
    return Observation(transfer=transfer, caller=caller, caller_address=caller_address,
                       caller_heard=endpoint.sim("GET", f"/calls/{caller_sid}/heard") or [],
                       caller_timeline=endpoint.sim("GET", f"/calls/{caller_sid}/timeline") or [],
                       legs=legs, names=names, agent_url=agent_url, calls=calls, settled=settled,
                       refusal=refusal)

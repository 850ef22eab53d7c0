"""What each party of a scenario does, as simulator personas scoped to the scenario's own numbers."""
from __future__ import annotations

from handoff.routing import Router, RoutingError
from handoff.routing.variables import Scope

from .files import Scenario

DEFAULT = {"does": "accepts"}      # a recipient the scenario does not list answers after 1 s and accepts
STATIC = ("number", "sip", "client")


def addresses(scenario: Scenario, caller: str, agent_number: str) -> dict[str, str]:
    """Each reachable recipient's address (placeholders filled as the service would), by name.

    A recipient whose placeholders this scenario leaves unbound is left out: the service cannot
    dial it either."""
    config = scenario.recipients.config
    router = Router(config)
    call = {"caller": caller, "from": caller, "to": agent_number, **_strings(scenario.caller.get("variables"))}
    scope = Scope(_strings(scenario.start.get("variables")), call, config.variables)
    found = {}
    for recipient in config.recipients.values():
        if recipient.type in STATIC:
            try:
                found[recipient.name] = router.target_for(recipient, scope).address
            except RoutingError:
                continue
    return found


def persona(address: str, party: dict, name: str = "") -> dict:
    """A personas-file entry (simulator/README.md) playing `party` at `address`."""
    does = party["does"]
    entry = {"address": address, "name": name or address, "answer_after": party.get("after", 1.0)}
    if does in ("accepts", "declines"):
        # The simulator reads the key off the prompt it hears: a recipient's own accept_key works too.
        entry.update(kind="human", press="accept" if does == "accepts" else "decline")
        if "hangs_up_after" in party:       # a temporary transfer's recipient who helps, then hangs up
            entry["hangup_after"] = party["hangs_up_after"]
    elif does == "answers":
        entry.update(kind="human", **({"press": party["presses"]} if "presses" in party else {}))
    elif does == "hangs-up-mid-whisper":
        entry.update(kind="human", hangup_during="whisper")
    elif does == "voicemail":
        entry.update(kind="voicemail", **({"greeting_seconds": party["greeting"]} if "greeting" in party else {}))
    elif does == "never-answers":
        entry.update(kind="no-answer")
    else:                                   # fax, busy, unreachable: persona kinds of the same name
        entry.update(kind=does)
    if entry["kind"] in ("no-answer", "busy", "unreachable"):
        del entry["answer_after"]
    return entry


def personas(scenario: Scenario, known: dict[str, str], caller: str, scope: list[str]) -> list[dict]:
    """The caller and every recipient (listed or not), each scoped to the scenario's numbers."""
    entries = []
    for name, address in known.items():
        entries.append(persona(address, scenario.parties.get(name, DEFAULT), name))
    for key, party in scenario.parties.items():
        if key not in known and key not in scenario.recipients.config.recipients:
            entries.append(persona(key, party))        # a raw address
    hang_up = scenario.caller.get("hangs_up_after")
    answers = {"press": scenario.caller.get("presses"), "say": scenario.caller.get("says")}
    entries.append({"address": caller, "name": "caller", "kind": "human",
                    **({"hangup_on_hold_after": hang_up} if hang_up is not None else {}),
                    **{key: value for key, value in answers.items() if value}})
    return [{**entry, "scope": list(scope)} for entry in entries]


def _strings(variables) -> dict[str, str]:
    from blueprints.schemas import stringify   # booleans as the service reads them ("true"/"false")

    return stringify(variables)

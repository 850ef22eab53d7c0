"""Which number a recipient leg presents, and the agent's number when the caller's cannot be shown."""
from __future__ import annotations

import re
from typing import Mapping

_PHONE = re.compile(r"^\+[1-9]\d{1,14}$")     # what Twilio accepts as callerId / From for a phone leg


def agent_number(configured: str | None, call: Mapping[str, str]) -> str | None:
    """The agent's number: TRANSFER_CALLER_ID, else the number the caller dialed."""
    return configured or call.get("to") or None


def caller_number(configured: str | None, call: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The caller's number as a caller ID, and why not when it is none (then the agent's number).

    A call that arrived over SIP or from a client has an address, not a number: Twilio refuses it as a
    <Dial> callerId or a calls.create From, so the leg presents the agent's number instead of failing."""
    caller = call.get("from") or ""
    if _PHONE.match(caller):
        return caller, None
    return agent_number(configured, call), (f"caller ID: the caller's address {caller or '(none)'} is not a phone "
                                            f"number, so the agent's number is presented")


def leg_from(configured: str | None, call: Mapping[str, str], wanted: str) -> tuple[str, str | None, str | None]:
    """(From, CallToken, why) of a calls.create leg (warm transfers) meant to present `wanted`.

    Twilio accepts as From only the account's numbers and verified caller IDs, or the inbound caller's
    number with that call's CallToken. A call recorded before Handoff kept CallTokens has none: the leg
    presents the agent's number rather than fail with 21210."""
    if not wanted or wanted != call.get("from"):
        return wanted, None, None
    if call.get("call_token"):
        return wanted, call["call_token"], None
    return (agent_number(configured, call) or wanted, None,
            "the call has no CallToken stored (it arrived before Handoff kept them), so Twilio would refuse "
            "the caller's number as From: the agent's number is presented")

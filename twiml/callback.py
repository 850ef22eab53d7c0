"""The callback offer: a one-key (or spoken yes) <Gather>, then what the caller would otherwise get."""
from __future__ import annotations

from handoff.transfer.decisions import ConnectAgent

from .agent import agent_verbs
from .xml import attr, document, element, say

# finishOnKey="": every key is an answer ('#' too: a no). Nothing pressed: Twilio goes on to the next verb.
_GATHER = ' action="{action}" finishOnKey="" input="{input}" method="POST" numDigits="1" timeout="{timeout}"'


def offer_callback(*, prompt: str, action_url: str, speech: bool, timeout: int, otherwise: ConnectAgent) -> str:
    """Offer a callback; the action records the answer; silence falls through to `otherwise` (the agent)."""
    gather = element("Gather", say(prompt), _GATHER.format(action=attr(action_url), timeout=attr(timeout),
                                                           input="dtmf speech" if speech else "dtmf"))
    return document(gather, *agent_verbs(kind=otherwise.kind, url=otherwise.url, action_url=otherwise.action_url,
                                         parameters=otherwise.parameters, message=otherwise.message))

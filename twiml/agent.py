"""Documents that put the caller with an AI agent (first connection, return after a transfer, hand-off)."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, VoiceResponse


def agent_connect(*, kind: str, url: str, action_url: str, parameters: Mapping[str, str] | None = None,
                  message: str | None = None) -> str:
    """Connect the caller to an agent; Connect's action tells us when the session ends.

    kind is conversation-relay, stream (Media Streams) or twiml (redirect to the agent's TwiML URL,
    with the parameters in the query string since a redirect has no <Parameter>).
    """
    response = VoiceResponse()
    if message:
        response.say(message)
    params = {k: str(v) for k, v in (parameters or {}).items() if v is not None and v != ""}
    if kind == "twiml":
        joiner = "&" if "?" in url else "?"
        response.redirect(f"{url}{joiner}{urlencode(params)}" if params else url, method="POST")
        return str(response)
    connect = Connect(action=action_url, method="POST")
    noun = connect.conversation_relay(url=url) if kind == "conversation-relay" else connect.stream(url=url)
    for name, value in params.items():
        noun.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def agent_hold(*, message: str, music_url: str | None) -> str:
    """What the caller hears while a worker prepares a transfer (dynamic destinations)."""
    response = VoiceResponse()
    response.say(message)
    if music_url:
        response.play(music_url, loop=0)
    else:
        response.pause(length=60)
    return str(response)

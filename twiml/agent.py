"""Documents that put the caller with an AI agent (first connection, return after a transfer, hand-off)."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, VoiceResponse

from .common import clean


def agent_connect(*, kind: str, url: str, action_url: str, parameters: Mapping[str, str] | None = None,
                  message: str | None = None) -> str:
    """Connect the caller to an agent; Connect's action tells us when the session ends.

    kind is conversation-relay, stream (Media Streams) or twiml (redirect to the agent's TwiML URL,
    with the parameters in the query string since a redirect has no <Parameter>).
    """
    response = VoiceResponse()
    if message:
        response.say(clean(message))
    params = {k: clean(v) for k, v in (parameters or {}).items() if v is not None and v != ""}
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


def hold_audio(*, music_url: str | None, message: str | None, announcement: str | None = None,
               again_url: str | None = None) -> str:
    """A waiting caller's audio, looped without end: the transfer's deadlines decide when it stops."""
    response = VoiceResponse()
    if announcement:
        response.say(clean(announcement))
    if music_url:
        response.play(music_url, loop=0)
    elif message:
        response.say(clean(message), loop=0)
    else:
        # Chosen silence: a conference replays its waitUrl by itself; elsewhere the document asks
        # for itself again, so the call never ends for lack of audio.
        response.pause(length=60)
        if again_url:
            response.redirect(again_url, method="POST")
    return str(response)

"""Documents that put the caller with an AI agent (first connection, return after a transfer, hand-off)."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlencode

from .xml import attr, clean, document, element, say, text

_CONNECT = '<Connect action="{action}" method="POST">{noun}</Connect>'
_NOUN_ATTRS = ' url="{url}"'
_PARAMETER = '<Parameter name="{name}" value="{value}" />'
_NOUNS = {"conversation-relay": "ConversationRelay"}   # any other kind is a Media Stream
_REDIRECT = ' method="POST"'
_PLAY_FOREVER = ' loop="0"'
_SILENCE = '<Pause length="60" />'


def agent_connect(*, kind: str, url: str, action_url: str, parameters: Mapping[str, str] | None = None,
                  message: str | None = None) -> str:
    """Connect the caller to an agent; Connect's action tells us when the session ends.

    kind is conversation-relay, stream (Media Streams) or twiml (redirect to the agent's TwiML URL,
    with the parameters in the query string since a redirect has no <Parameter>).
    """
    return document(*agent_verbs(kind=kind, url=url, action_url=action_url, parameters=parameters, message=message))


def agent_verbs(*, kind: str, url: str, action_url: str, parameters: Mapping[str, str] | None = None,
                message: str | None = None) -> tuple[str, str]:
    """agent_connect's verbs, unframed (a callback offer falls through to them)."""
    greeting = say(message) if message else ""
    params = {k: clean(v) for k, v in (parameters or {}).items() if v is not None and v != ""}
    if kind == "twiml":
        joiner = "&" if "?" in url else "?"
        target = f"{url}{joiner}{urlencode(params)}" if params else url
        return greeting, element("Redirect", text(target), _REDIRECT)
    body = "".join(_PARAMETER.format(name=attr(name), value=attr(value)) for name, value in params.items())
    noun = element(_NOUNS.get(kind, "Stream"), body, _NOUN_ATTRS.format(url=attr(url)))
    return greeting, _CONNECT.format(action=attr(action_url), noun=noun)


def hold_audio(*, music_url: str | None, message: str | None, announcement: str | None = None,
               again_url: str | None = None) -> str:
    """A waiting caller's audio, looped without end: the transfer's deadlines decide when it stops."""
    verbs = [say(announcement)] if announcement else []
    if music_url:
        verbs.append(element("Play", text(music_url), _PLAY_FOREVER))
    elif message:
        verbs.append(say(message, _PLAY_FOREVER))
    else:
        # Chosen silence: a conference replays its waitUrl by itself; elsewhere the document asks
        # for itself again, so the call never ends for lack of audio.
        verbs.append(_SILENCE)
        if again_url:
            verbs.append(element("Redirect", text(again_url), _REDIRECT))
    return document(*verbs)

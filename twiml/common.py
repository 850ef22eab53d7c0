"""Documents shared by every flow, and the one place text is made safe for XML."""
from __future__ import annotations

import re

from twilio.twiml.voice_response import VoiceResponse

APPLICATION_ERROR = "We're sorry, something went wrong connecting your call. Please call back in a moment."
# Characters XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/U+FFFF): a document holding
# one is not well-formed and Twilio rejects it (12100), so every value passes through clean().
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value) -> str:
    """A value safe inside a TwiML document (characters XML cannot carry are dropped)."""
    return _NOT_XML.sub("", str(value))


def hangup() -> str:
    """End the call."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_and_hangup(*, message: str) -> str:
    """Say a message, then end the call."""
    response = VoiceResponse()
    response.say(clean(message))
    response.hangup()
    return str(response)


def declined() -> str:
    """What a recipient hears after declining a transfer."""
    return say_and_hangup(message="Thank you. The caller will be helped elsewhere.")


def taken_elsewhere() -> str:
    """A parallel-group leg that accepted too late."""
    return say_and_hangup(message="This call has already been answered by a colleague. Goodbye.")


def application_error() -> str:
    """Static apology for /voice/fallback: must render with no Redis, no config beyond defaults."""
    return say_and_hangup(message=APPLICATION_ERROR)


def take_voicemail(*, prompt: str, action_url: str, max_length: int = 120) -> str:
    """Last resort: ask the caller to leave a message and record it."""
    response = VoiceResponse()
    response.say(clean(prompt))
    response.record(action=action_url, max_length=max_length, play_beep=True, timeout=5)
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return str(response)


def announcement(*, text: str) -> str:
    """Said to everyone in a conference (AnnounceUrl); an empty text says nothing."""
    response = VoiceResponse()
    if text:
        response.say(clean(text))
    return str(response)

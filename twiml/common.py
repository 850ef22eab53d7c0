"""Small documents shared by every flow: hang up, apologise, take a message."""
from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

APPLICATION_ERROR = "We're sorry, something went wrong connecting your call. Please call back in a moment."


def hangup() -> str:
    """End the call."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_and_hangup(*, message: str) -> str:
    """Say a message, then end the call."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def thanks_and_hangup() -> str:
    """What a recipient hears after declining a transfer."""
    return say_and_hangup(message="Thank you. The caller will be helped elsewhere.")


def application_error() -> str:
    """Static apology for /voice/fallback: must render with no Redis, no config beyond defaults."""
    return say_and_hangup(message=APPLICATION_ERROR)


def take_voicemail(*, prompt: str, action_url: str, max_length: int = 120) -> str:
    """Last resort: ask the caller to leave a message and record it."""
    response = VoiceResponse()
    response.say(prompt)
    response.record(action=action_url, max_length=max_length, play_beep=True, timeout=5)
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return str(response)


def announcement(*, text: str) -> str:
    """Said to everyone in a conference (AnnounceUrl); an empty text says nothing."""
    response = VoiceResponse()
    if text:
        response.say(text)
    return str(response)

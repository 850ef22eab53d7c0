"""Documents shared by every flow."""
from __future__ import annotations

from .xml import attr, clean, document, say

APPLICATION_ERROR = "We're sorry, something went wrong connecting your call. Please call back in a moment."
_HANGUP = "<Hangup />"
_RECORD = '<Record action="{action}" maxLength="{max_length}" playBeep="true" timeout="5" />'
_NO_MESSAGE = "<Say>We did not receive a message. Goodbye.</Say>"

__all__ = ["APPLICATION_ERROR", "announcement", "application_error", "clean", "declined", "hangup",
           "say_and_hangup", "take_voicemail", "taken_elsewhere"]


def hangup() -> str:
    """End the call."""
    return document(_HANGUP)


def say_and_hangup(*, message: str) -> str:
    """Say a message, then end the call."""
    return document(say(message), _HANGUP)


_DECLINED = say_and_hangup(message="Thank you. The caller will be helped elsewhere.")
_TAKEN_ELSEWHERE = say_and_hangup(message="This call has already been answered by a colleague. Goodbye.")
_APPLICATION_ERROR = say_and_hangup(message=APPLICATION_ERROR)


def declined() -> str:
    """What a recipient hears after declining a transfer."""
    return _DECLINED


def taken_elsewhere() -> str:
    """A parallel-group leg that accepted too late."""
    return _TAKEN_ELSEWHERE


def application_error() -> str:
    """Static apology for /voice/fallback: must render with no Redis, no config beyond defaults."""
    return _APPLICATION_ERROR


def take_voicemail(*, prompt: str, action_url: str, max_length: int = 120) -> str:
    """Last resort: ask the caller to leave a message and record it."""
    return document(say(prompt), _RECORD.format(action=attr(action_url), max_length=attr(max_length)),
                    _NO_MESSAGE, _HANGUP)


def announcement(*, text: str) -> str:
    """Said to everyone in a conference (AnnounceUrl); an empty text says nothing."""
    return document(say(text)) if text else document()

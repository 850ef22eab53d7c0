"""Warm (attended) transfer documents: the caller's conference, the recipient's consent and whisper."""
from __future__ import annotations

from .xml import attr, document, element, say
from .xml import text as cdata   # consent_prompt has an argument named text

CONFERENCE_EVENTS = "start end join leave"
_STATUS = f'statusCallback="{{callback}}" statusCallbackEvent="{CONFERENCE_EVENTS}" statusCallbackMethod="POST"'
# The caller does not start the conference: the wait audio plays until the recipient joins.
# endConferenceOnExit: a caller who hangs up takes the conference (and the recipient) down.
_CALLER = (' beep="false" endConferenceOnExit="true" participantLabel="caller" startConferenceOnEnter="false" '
           + _STATUS + ' waitMethod="POST" waitUrl="{wait_url}"')
_RECIPIENT = (' beep="false" endConferenceOnExit="true" participantLabel="recipient" startConferenceOnEnter="true" '
              + _STATUS)
_CALLER_DIAL = '<Dial action="{action}" method="POST">{conference}</Dial>'
_GATHER = ' action="{action}" finishOnKey="" method="POST" numDigits="1" timeout="{timeout}"'
_REDIRECT = ' method="POST"'


def caller_conference(*, room: str, wait_url: str, action_url: str, status_callback_url: str,
                      announcement: str | None = None) -> str:
    """Put the caller in the transfer's conference, hearing hold audio until the recipient joins."""
    conference = element("Conference", cdata(room), _CALLER.format(callback=attr(status_callback_url),
                                                                  wait_url=attr(wait_url)))
    return document(say(announcement) if announcement else "",
                    _CALLER_DIAL.format(action=attr(action_url), conference=conference))


def consent_prompt(*, text: str, key: str, action_url: str, timeout: int) -> str:
    """A neutral prompt, twice: only a key press proves a person is there (no caller content)."""
    action = attr(action_url)
    gather = element("Gather", say(text.format(key=key)), _GATHER.format(action=action, timeout=attr(timeout)))
    # Nothing pressed: tell the service, which moves on.
    return document(gather, gather, element("Redirect", cdata(action_url), _REDIRECT))


def whisper_prompt(*, whisper: str, accept_key: str, decline_key: str, key_action_url: str,
                   timeout: int) -> str:
    """The recipient hears the whisper and a press-a-key prompt, repeated once."""
    prompt = element("Say", cdata(f"Press {accept_key} to accept the call, or {decline_key} to decline."))
    attrs = _GATHER.format(action=attr(key_action_url), timeout=attr(timeout))
    first = element("Gather", (say(whisper) if whisper else "") + prompt, attrs)
    # Nothing pressed after two prompts: tell the service (no Digits) so it can move on.
    return document(first, element("Gather", prompt, attrs), element("Redirect", cdata(key_action_url), _REDIRECT))


def join_conference(*, room: str, status_callback_url: str, announcement: str | None = None) -> str:
    """The accepting recipient joins; the caller is bridged the moment they do."""
    conference = element("Conference", cdata(room), _RECIPIENT.format(callback=attr(status_callback_url)))
    return document(say(announcement) if announcement else "", element("Dial", conference))

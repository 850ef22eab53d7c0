"""Warm (attended) transfer documents: the caller's conference, the recipient's consent and whisper."""
from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from .common import clean

CONFERENCE_EVENTS = "start end join leave"


def caller_conference(*, room: str, wait_url: str, action_url: str, status_callback_url: str,
                      announcement: str | None = None) -> str:
    """Put the caller in the transfer's conference, hearing hold audio until the recipient joins."""
    response = VoiceResponse()
    if announcement:
        response.say(clean(announcement))
    dial = Dial(action=action_url, method="POST")
    # The caller does not start the conference: the wait audio plays until the recipient joins.
    # endConferenceOnExit: a caller who hangs up takes the conference (and the recipient) down.
    dial.conference(room, start_conference_on_enter=False, end_conference_on_exit=True, beep=False,
                    wait_url=wait_url, wait_method="POST", participant_label="caller",
                    status_callback=status_callback_url, status_callback_event=CONFERENCE_EVENTS,
                    status_callback_method="POST")
    response.append(dial)
    return str(response)


def consent_prompt(*, text: str, key: str, action_url: str, timeout: int) -> str:
    """A neutral prompt, twice: only a key press proves a person is there (no caller content)."""
    response = VoiceResponse()
    for _ in range(2):
        gather = Gather(num_digits=1, timeout=timeout, action=action_url, method="POST", finish_on_key="")
        gather.say(clean(text.format(key=key)))
        response.append(gather)
    response.redirect(action_url, method="POST")    # nothing pressed: tell the service, which moves on
    return str(response)


def whisper_prompt(*, whisper: str, accept_key: str, decline_key: str, key_action_url: str,
                   timeout: int) -> str:
    """The recipient hears the whisper and a press-a-key prompt, repeated once."""
    prompt = f"Press {accept_key} to accept the call, or {decline_key} to decline."
    response = VoiceResponse()
    for round_no in range(2):
        gather = Gather(num_digits=1, timeout=timeout, action=key_action_url, method="POST", finish_on_key="")
        if round_no == 0 and whisper:
            gather.say(clean(whisper))
        gather.say(prompt)
        response.append(gather)
    # Nothing pressed after two prompts: tell the service (no Digits) so it can move on.
    response.redirect(key_action_url, method="POST")
    return str(response)


def join_conference(*, room: str, status_callback_url: str, announcement: str | None = None) -> str:
    """The accepting recipient joins; the caller is bridged the moment they do."""
    response = VoiceResponse()
    if announcement:
        response.say(clean(announcement))
    dial = Dial()
    dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=True, beep=False,
                    participant_label="recipient", status_callback=status_callback_url,
                    status_callback_event=CONFERENCE_EVENTS, status_callback_method="POST")
    response.append(dial)
    return str(response)

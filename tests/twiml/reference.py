"""The reference: twiml/'s documents as they were built with twilio's VoiceResponse before the templates.

Kept verbatim (only gathered in one module) as the oracle of tests/twiml/test_templates.py.
"""
from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, Dial, Gather, Refer, VoiceResponse

from handoff.transfer import decisions as d
from handoff.transfer.decisions import Endpoint

LEG_EVENTS = "initiated ringing answered completed"
CONFERENCE_EVENTS = "start end join leave"

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


def agent_connect(*, kind: str, url: str, action_url: str, parameters: Mapping[str, str] | None = None,
                  message: str | None = None) -> str:
    """Connect the caller to an agent; Connect's action tells us when the session ends.

    kind is conversation-relay, stream (Media Streams) or twiml (redirect to the agent's TwiML URL,
    with the parameters in the query string since a redirect has no <Parameter>).
    """
    return str(_append_agent(VoiceResponse(), kind=kind, url=url, action_url=action_url, parameters=parameters,
                             message=message))


def _append_agent(response: VoiceResponse, *, kind: str, url: str, action_url: str,
                  parameters: Mapping[str, str] | None = None, message: str | None = None) -> VoiceResponse:
    if message:
        response.say(clean(message))
    params = {k: clean(v) for k, v in (parameters or {}).items() if v is not None and v != ""}
    if kind == "twiml":
        joiner = "&" if "?" in url else "?"
        response.redirect(f"{url}{joiner}{urlencode(params)}" if params else url, method="POST")
        return response
    connect = Connect(action=action_url, method="POST")
    noun = connect.conversation_relay(url=url) if kind == "conversation-relay" else connect.stream(url=url)
    for name, value in params.items():
        noun.parameter(name=name, value=value)
    response.append(connect)
    return response


def offer_callback(*, prompt: str, action_url: str, speech: bool, timeout: int, otherwise: d.ConnectAgent) -> str:
    """Offer a callback; the action records the answer; silence falls through to `otherwise` (the agent)."""
    response = VoiceResponse()
    gather = Gather(input="dtmf speech" if speech else "dtmf", num_digits=1, timeout=timeout, action=action_url,
                    method="POST", finish_on_key="")
    gather.say(clean(prompt))
    response.append(gather)
    return str(_append_agent(response, kind=otherwise.kind, url=otherwise.url, action_url=otherwise.action_url,
                             parameters=otherwise.parameters, message=otherwise.message))


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


def cold_dial(*, endpoint: Endpoint, action_url: str, status_callback_url: str, timeout: int,
              caller_id: str | None, message: str | None = None, pause_seconds: int = 0) -> str:
    """Say the hand-off message, then dial the endpoint; Dial's action reports how it went."""
    response = VoiceResponse()
    if message:
        response.say(clean(message))
    if pause_seconds:
        response.pause(length=pause_seconds)
    # answerOnBridge keeps the caller hearing ringback (not silence) until the far end answers.
    dial = Dial(action=action_url, method="POST", timeout=timeout, answer_on_bridge=True,
                **({"caller_id": caller_id} if caller_id and endpoint.kind != "client" else {}))
    callback = {"status_callback": status_callback_url, "status_callback_event": LEG_EVENTS,
                "status_callback_method": "POST"}
    if endpoint.kind == "number":
        dial.number(endpoint.address, send_digits=endpoint.send_digits or None, **callback)
    elif endpoint.kind == "sip":
        credentials = {"username": endpoint.username, "password": endpoint.password or ""} \
            if endpoint.username else {}
        dial.sip(endpoint.address, **credentials, **callback)
    elif endpoint.kind == "client":
        dial.client(endpoint.address.removeprefix("client:"), **callback)
    else:
        raise ValueError(f"cold_dial cannot dial a {endpoint.kind} endpoint")
    response.append(dial)
    return str(response)


def refer(*, endpoint: Endpoint, action_url: str, message: str | None = None) -> str:
    """Hand the SIP call back to the caller's SIP infrastructure with a REFER to the endpoint."""
    if endpoint.kind not in ("number", "sip"):
        raise ValueError(f"SIP REFER cannot reach a {endpoint.kind} endpoint")
    response = VoiceResponse()
    if message:
        response.say(clean(message))
    refer_verb = Refer(action=action_url, method="POST")
    # REFER to a number uses a tel: URI in the Refer-To header.
    refer_verb.sip(f"tel:{endpoint.address}" if endpoint.kind == "number" else endpoint.address)
    response.append(refer_verb)
    return str(response)


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


_RENDERERS = {
    d.Hangup: lambda x: hangup(),
    d.SayAndHangup: lambda x: say_and_hangup(message=x.message),
    d.ConnectAgent: lambda x: agent_connect(kind=x.kind, url=x.url, action_url=x.action_url,
                                            parameters=x.parameters, message=x.message),
    d.DialOut: lambda x: cold_dial(endpoint=x.endpoint, action_url=x.action_url, timeout=x.timeout,
                                   status_callback_url=x.status_callback_url, caller_id=x.caller_id,
                                   message=x.message, pause_seconds=x.pause_seconds),
    d.ReferOut: lambda x: refer(endpoint=x.endpoint, action_url=x.action_url, message=x.message),
    d.HoldInConference: lambda x: caller_conference(room=x.room, wait_url=x.wait_url, action_url=x.action_url,
                                                    status_callback_url=x.status_callback_url,
                                                    announcement=x.announcement),
    d.HoldAudio: lambda x: hold_audio(music_url=x.music_url, message=x.message, announcement=x.announcement,
                                          again_url=x.again_url),
    d.ConsentPrompt: lambda x: consent_prompt(text=x.text, key=x.key, action_url=x.action_url, timeout=x.timeout),
    d.Whisper: lambda x: whisper_prompt(whisper=x.text, accept_key=x.accept_key, decline_key=x.decline_key,
                                        key_action_url=x.action_url, timeout=x.timeout),
    d.JoinConference: lambda x: join_conference(room=x.room, status_callback_url=x.status_callback_url,
                                                announcement=x.announcement),
    d.TakenElsewhere: lambda x: taken_elsewhere(),
    d.Declined: lambda x: declined(),
    d.TakeVoicemail: lambda x: take_voicemail(prompt=x.prompt, action_url=x.action_url),
    d.Announcement: lambda x: announcement(text=x.text),
    d.OfferCallback: lambda x: offer_callback(prompt=x.prompt, action_url=x.action_url, speech=x.speech,
                                              timeout=x.timeout, otherwise=x.otherwise),
}


def render(decision: d.Decision) -> str:
    """The TwiML document for a decision of the domain."""
    return _RENDERERS[type(decision)](decision)

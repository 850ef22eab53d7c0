"""TwiML documents: pure functions with keyword-only arguments (precompiled string templates, twiml/xml.py),
and render() for the domain's decisions."""
from handoff.transfer import decisions as d

from .agent import agent_connect, hold_audio
from .callback import offer_callback
from .cold import cold_dial, refer
from .common import (announcement, application_error, clean, declined, hangup, say_and_hangup, take_voicemail,
                     taken_elsewhere)
from .warm import caller_conference, consent_prompt, join_conference, whisper_prompt

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


__all__ = [
    "render", "agent_connect", "hold_audio", "cold_dial", "refer", "announcement", "application_error", "clean",
    "declined", "hangup", "say_and_hangup", "take_voicemail", "taken_elsewhere", "caller_conference",
    "consent_prompt", "join_conference", "whisper_prompt", "offer_callback",
]

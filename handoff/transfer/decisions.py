"""What a party hears or does next: typed decisions the domain returns and twiml/ renders.

This module is the whole interface between the domain and twiml/: plain data, no behaviour.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Endpoint:
    """Something a <Dial> or <Refer> reaches; `address` is final (SIP headers already appended)."""

    kind: str                        # number | sip | client
    address: str
    send_digits: str | None = None
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class SayAndHangup:
    """Say a message, then end the call."""

    message: str


@dataclass(frozen=True)
class ConnectAgent:
    """Connect the caller to an AI agent (ConversationRelay, a Media Stream, or a TwiML URL)."""

    kind: str
    url: str
    action_url: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class DialOut:
    """Cold transfer: say the message, then dial the endpoint; the action reports how it went."""

    endpoint: Endpoint
    action_url: str
    status_callback_url: str
    timeout: int
    caller_id: str | None = None
    message: str | None = None
    pause_seconds: int = 0


@dataclass(frozen=True)
class ReferOut:
    """SIP REFER the caller's leg to the endpoint."""

    endpoint: Endpoint
    action_url: str
    message: str | None = None


@dataclass(frozen=True)
class HoldInConference:
    """Warm transfer: the caller waits in the conference on hold audio until the recipient joins."""

    room: str
    wait_url: str                    # '' = silence
    action_url: str
    status_callback_url: str
    announcement: str | None = None


@dataclass(frozen=True)
class HoldAudio:
    """What a waiting caller hears, looped (a conference waitUrl, or a hold while a worker works)."""

    music_url: str | None
    message: str | None = None
    announcement: str | None = None  # said once, first
    again_url: str | None = None     # silence only: fetch the document again rather than end the call


@dataclass(frozen=True)
class ConsentPrompt:
    """A recipient not yet known to be human hears a neutral prompt: nothing about the caller."""

    key: str
    action_url: str
    timeout: int
    text: str = "You have a transferred call. Press {key} to hear it."


@dataclass(frozen=True)
class Whisper:
    """A human recipient hears the whisper, then the accept/decline prompt (twice)."""

    text: str
    accept_key: str
    decline_key: str
    action_url: str
    timeout: int


@dataclass(frozen=True)
class JoinConference:
    """The accepting recipient joins the caller."""

    room: str
    status_callback_url: str
    announcement: str | None = None


@dataclass(frozen=True)
class TakenElsewhere:
    """A parallel-group leg that accepted too late."""


@dataclass(frozen=True)
class Declined:
    """What a recipient hears after declining."""


@dataclass(frozen=True)
class TakeVoicemail:
    """Last resort: ask the caller to leave a message and record it."""

    prompt: str
    action_url: str


@dataclass(frozen=True)
class OfferCallback:
    """Last resort: offer the caller a callback (a key, or a spoken yes); nothing pressed: `otherwise`."""

    prompt: str
    action_url: str
    speech: bool
    timeout: int
    otherwise: ConnectAgent          # what the caller would have had without the offer


@dataclass(frozen=True)
class Announcement:
    """Said to everyone in a conference (an empty text says nothing)."""

    text: str


Decision = (Hangup | SayAndHangup | ConnectAgent | DialOut | ReferOut | HoldInConference | HoldAudio
            | ConsentPrompt | Whisper | JoinConference | TakenElsewhere | Declined | TakeVoicemail | Announcement
            | OfferCallback)

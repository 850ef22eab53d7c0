"""What a transfer can reach: targets, delivery settings, and the ordered plan of attempts."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TargetKind(str, Enum):
    """The kind of endpoint a transfer dials."""

    NUMBER = "number"
    SIP = "sip"
    CLIENT = "client"
    AGENT = "agent"

    @property
    def is_phone(self) -> bool:
        return self is TargetKind.NUMBER


class LastResort(str, Enum):
    """What happens to the caller when every attempt of a transfer has failed."""

    AGENT = "agent"            # back to the AI agent, told the outcome (the default)
    VOICEMAIL = "voicemail"    # take a voice message
    MESSAGE = "message"        # say a message and hang up
    CALLBACK = "callback"      # offer a callback ("press 1"), else back to the AI agent (handoff/callbacks.py)

    @property
    def is_agent(self) -> bool:
        return self is LastResort.AGENT


@dataclass(frozen=True)
class Target:
    """One concrete endpoint: an E.164 number, a SIP URI, a WebRTC client identity or an AI agent."""

    kind: TargetKind
    address: str                      # +E.164, sip:user@host, client identity, or agent URL
    recipient: str | None = None      # name of the configured recipient it came from, if any
    send_digits: str | None = None    # extension digits played after answer (Number only)
    sip_headers: tuple[tuple[str, str], ...] = ()   # X- headers appended to the SIP URI
    sip_username: str | None = None
    sip_password: str | None = None

    def describe(self) -> str:
        """A short human label for timelines and logs (never includes credentials)."""
        label = self.recipient or self.address
        if self.recipient:
            label = f"{self.recipient} ({self.address})"
        return label


@dataclass(frozen=True)
class DeliverySettings:
    """How a transfer is carried out; recipient defaults overlaid by the request."""

    mode: str = "cold"                      # cold | warm | agent
    message: str | None = None              # spoken to the caller before the hand-off
    whisper: str | None = None              # template heard by the recipient (warm)
    summary_prompt: str | None = None       # prompt for the LLM summariser (warm)
    hold_music_url: str | None = None       # looped while the caller waits (warm)
    hold_message: str | None = None         # spoken instead of music, if set
    hold_silence: bool = False
    timeout: int = 20                       # ring timeout, seconds
    accept_timeout: int = 8                 # seconds to press a key after the whisper (warm)
    human_detection: bool = True            # AMD on warm legs
    detection_timeout: int = 30             # seconds to wait for AMD before giving up
    # Twilio's AMD tuning, in milliseconds (None: Twilio's defaults): MachineDetectionSpeechThreshold,
    # MachineDetectionSpeechEndThreshold and MachineDetectionSilenceTimeout.
    detection_speech_threshold: int | None = None
    detection_speech_end_threshold: int | None = None
    detection_silence_timeout: int | None = None
    accept_key: str = "1"
    decline_key: str = "2"
    caller_id: str = "agent"                # agent | caller | an E.164 number
    retries: int = 0                        # extra tries of the same step
    retry_interval: float = 0.0             # seconds between tries
    announcement: str | None = None         # played to both sides on bridge (warm)
    last_resort: LastResort = LastResort.AGENT
    last_resort_message: str | None = None
    # Texts to the caller (handoff/texts.py): SMS templates with placeholders, None = no text.
    sms_before: str | None = None           # sent as the transfer starts
    sms_success: str | None = None          # sent when the caller reached a person
    sms_failure: str | None = None          # sent when nobody took the call (not on cancel / hang-up)
    # Hand-off card (handoff/cards.py): a warm recipient who accepted gets an SMS linking to the caller's context.
    card: bool = False
    card_to: str | None = None              # the mobile to text (E.164); None = the number dialed
    # Callback offers (handoff/callbacks.py): what the caller hears and gets when last_resort is callback.
    callback_prompt: str | None = None      # the offer; None = "Nobody can take your call right now. Press 1..."
    callback_speech: bool = False           # also accept a spoken "yes"
    callback_sms: str | None = None         # confirmation text (placeholders); None = no SMS
    callback_message: str | None = None     # said once the offer is taken, then the call ends


@dataclass(frozen=True)
class Step:
    """One attempt of a plan: one target, or several rung at once when parallel."""

    targets: tuple[Target, ...]
    parallel: bool = False
    retries: int = 0
    retry_interval: float = 0.0
    dynamic: str | None = None        # name of a dynamic recipient resolved in the worker
    settings: DeliverySettings | None = None   # its own delivery (recipient layered); None: the plan's


@dataclass(frozen=True)
class Plan:
    """The ordered attempts a transfer walks, and what it does when they all fail."""

    steps: tuple[Step, ...]
    settings: DeliverySettings = field(default_factory=DeliverySettings)   # the transfer's: its first step's
    reasons: tuple[str, ...] = ()    # why routing chose this plan (explain, timeline)
    rule: str | None = None          # the first rule routing walked (analytics groups by it)

"""Scripted parties (personas) and the numbers whose voice URLs are configured, loaded from YAML/JSON."""

import json
import re
from dataclasses import dataclass, field, asdict
from pathlib import Path

from simulator.messages import BEHAVIOURS as SMS_BEHAVIOURS

KINDS = ("human", "no-answer", "busy", "unreachable", "voicemail", "fax", "ivr")
CHOICES = ("accept", "decline")     # `press` values read off the prompt instead of a fixed key
HANGUP_DURING = ("whisper",)
# AnsweredBy values Twilio's answering machine detection reports.
ANSWERED_BY = ("human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
               "fax", "unknown")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalize_address(address):
    """The lookup key of an address: E.164 as is, SIP URIs without headers/params, client:identity."""
    address = (address or "").strip()
    low = address.lower()
    if low.startswith("sip:") or low.startswith("sips:"):
        return "sip:" + address.split(":", 1)[1].split("?", 1)[0].split(";", 1)[0].lower()
    if low.startswith("client:"):
        return "client:" + address.split(":", 1)[1]
    if low.startswith("tel:"):
        # A REFER to a number carries a tel: URI (Refer-To: <tel:+1…>): the same party as the number.
        return address.split(":", 1)[1].split(";", 1)[0]
    return address


def is_dialable(address):
    """True when the address is an E.164 number, a SIP URI or a client identity."""
    address = (address or "").strip()
    low = address.lower()
    if low.startswith(("sip:", "sips:")):
        return "@" in address
    if low.startswith("client:"):
        return len(address) > len("client:")
    return bool(E164.match(address))


@dataclass
class Persona:
    """A party the simulator plays: how it answers, what it presses, when it hangs up."""

    address: str
    name: str = ""
    kind: str = "human"
    answer_after: float = 1.0
    press: str = None
    press_after: float = 0.2
    say: str = None                  # words spoken at a <Gather input="speech"> (SpeechResult), after press_after
    hangup_after: float = None
    hangup_on_hold_after: float = None
    extensions: dict = field(default_factory=dict)
    greeting_seconds: float = 3.0
    detected_as: str = None          # forces the AMD verdict (e.g. "unknown", or "human" for a fooling box)
    detection_seconds: float = None  # how long AMD takes on this party (default: settings.amd_seconds)
    hangup_during: str = None        # "whisper": hangs up once it has started hearing the whisper
    scope: list = None               # only for calls from / about these numbers (see Simulator.persona_for)
    sms: str = None                  # how it takes a text: delivers (default), landline, unsubscribed,
                                     # region-not-enabled, not-mobile (simulator/messages.py)

    @classmethod
    def from_dict(cls, data):
        """Build a persona from a personas-file entry, rejecting unknown keys and kinds."""
        data = dict(data)
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown persona keys: {sorted(unknown)}")
        if "address" not in data:
            raise ValueError("a persona needs an address")
        persona = cls(**data)
        if persona.kind not in KINDS:
            raise ValueError(f"unknown persona kind {persona.kind!r} (one of {', '.join(KINDS)})")
        if persona.press is not None:
            persona.press = str(persona.press)
            if persona.press not in CHOICES and any(c.isalpha() and c not in "wW" for c in persona.press):
                raise ValueError(f"persona key 'press' must be keys or one of {', '.join(CHOICES)}, "
                                 f"got {persona.press!r}")
        if persona.say is not None and (not isinstance(persona.say, str) or not persona.say.strip()):
            raise ValueError(f"persona key 'say' must be the words spoken, got {persona.say!r}")
        if persona.hangup_during is not None and persona.hangup_during not in HANGUP_DURING:
            raise ValueError(f"unknown hangup_during {persona.hangup_during!r} (one of {', '.join(HANGUP_DURING)})")
        persona.scope = _scope(persona.scope)
        if persona.sms is not None and persona.sms not in SMS_BEHAVIOURS:
            raise ValueError(f"unknown persona sms {persona.sms!r} (one of {', '.join(SMS_BEHAVIOURS)})")
        persona.extensions = {str(k): str(v) for k, v in (persona.extensions or {}).items()}
        if persona.detected_as is not None and persona.detected_as not in ANSWERED_BY:
            raise ValueError(f"unknown detected_as {persona.detected_as!r} (one of {', '.join(ANSWERED_BY)})")
        for name in ("answer_after", "press_after", "hangup_after", "hangup_on_hold_after", "greeting_seconds",
                     "detection_seconds"):
            value = getattr(persona, name)
            if value is not None:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"persona key {name!r} must be a number of seconds, got {value!r}") from None
                if value < 0:
                    raise ValueError(f"persona key {name!r} must be >= 0, got {value}")
                setattr(persona, name, value)
        return persona

    def to_dict(self):
        """The persona as a personas-file entry."""
        return asdict(self)


def _scope(value):
    """A persona's scope as a sorted list of lookup keys, or None (a global persona)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"persona key 'scope' must be a non-empty list of numbers or addresses, got {value!r}")
    return sorted({normalize_address(v) for v in value})


@dataclass
class NumberConfig:
    """A number's voice configuration, as on a Twilio phone number."""

    number: str
    voice_url: str = None
    voice_method: str = "POST"
    voice_fallback_url: str = None
    voice_fallback_method: str = "POST"
    status_callback: str = None
    status_callback_method: str = "POST"

    @classmethod
    def from_dict(cls, data):
        """Build a number configuration from a personas-file entry."""
        data = dict(data)
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown number keys: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self):
        """The configuration as a dict."""
        return asdict(self)


def load_file(path):
    """Read a personas file (YAML or JSON) into (personas, numbers)."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        data = json.loads(text)
    else:
        import yaml  # PyYAML is a runtime dependency (requirements.txt)

        data = yaml.safe_load(text) or {}
    personas = [Persona.from_dict(p) for p in data.get("personas") or []]
    numbers = [NumberConfig.from_dict(n) for n in data.get("numbers") or []]
    return personas, numbers

"""Timing and behaviour settings of a simulator run."""

import os
from dataclasses import dataclass, fields, asdict


@dataclass
class SimSettings:
    """Every timeout the simulator uses; tests shrink them to keep the suite fast."""

    speech_seconds_per_char: float = 0.06
    play_seconds: float = 5.0
    webhook_timeout: float = 15.0
    amd_seconds: float = 1.0
    ring_seconds_default: float = 1.0
    rest_latency: float = 0.0
    callback_delay: float = 0.0
    callback_jitter: float = 0.0
    # The account's calls per second; 0 = no limit. Twilio's default is 1, but one simulator serves many
    # independent tests and scenarios at once, which a shared 1 CPS would queue behind one another.
    cps: float = 0.0
    strict: bool = True

    def update(self, values):
        """Apply a dict of setting overrides, converting each to the field's type."""
        known = {f.name: f.type for f in fields(self)}
        for name, value in (values or {}).items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}")
            value = _convert(value, getattr(self, name))
            if not isinstance(value, bool) and value < 0:
                raise ValueError(f"setting {name!r} must be >= 0, got {value}")
            setattr(self, name, value)
        return self

    def as_dict(self):
        """The settings as a plain dict."""
        return asdict(self)

    @classmethod
    def from_env(cls, environ=None):
        """Settings overridden by SIM_<NAME> environment variables (e.g. SIM_PLAY_SECONDS)."""
        environ = os.environ if environ is None else environ
        settings = cls()
        for f in fields(cls):
            key = "SIM_" + f.name.upper()
            if key in environ:
                settings.update({f.name: environ[key]})
        return settings


def _convert(value, current):
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    return float(value)

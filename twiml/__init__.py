"""TwiML documents, built by pure functions with keyword-only arguments (one module per flow)."""
from .agent import agent_connect, agent_hold
from .common import announcement, application_error, hangup, say_and_hangup, take_voicemail, thanks_and_hangup
from .cold import cold_dial, refer
from .warm import (caller_conference, hold_audio, join_conference, leg_awaiting_detection, taken_elsewhere,
                   whisper_prompt)

__all__ = [
    "agent_connect", "agent_hold", "announcement", "application_error", "hangup", "say_and_hangup", "take_voicemail",
    "thanks_and_hangup", "cold_dial", "refer", "caller_conference", "hold_audio", "join_conference",
    "leg_awaiting_detection", "taken_elsewhere", "whisper_prompt",
]

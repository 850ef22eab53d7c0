"""The fields of a transfer's texts hash (lua/text.lua): a purpose claimed before its send, and the send's end.

Shared by handoff/texts.py, which writes them, and handoff/archive.py, which waits for a text on its way.
"""
from __future__ import annotations

import time
from typing import Mapping

CLAIM = "claim:"         # a purpose claimed (value: epoch seconds)
SENT = "sent:"           # ... and its send's end (value: the message SID, or 'failed')
SEND_WINDOW = 90.0       # seconds a claimed text may still be on its way to Twilio (timeout and retries)


def in_flight(fields: Mapping[str, str], now: float | None = None) -> bool:
    """A text claimed less than SEND_WINDOW ago whose send has not ended."""
    for field, value in fields.items():
        if field.startswith(CLAIM) and SENT + field[len(CLAIM):] not in fields:
            try:
                if (now or time.time()) - float(value) < SEND_WINDOW:
                    return True
            except ValueError:
                continue
    return False

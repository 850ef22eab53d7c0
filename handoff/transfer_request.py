"""A validated request to transfer a call, whoever made it (API, tool call, HandoffData)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class TransferRequest:
    """A validated request to transfer a call (from the API, a tool call or the agent's HandoffData)."""

    to: str
    mode: str | None = None
    message: str | None = None
    reason: str | None = None
    summary: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    final: bool = True
    caller_id: str | None = None
    timeout: int | None = None
    refer: bool = False
    context: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None      # local mode only: route as if it were this time (aware)
    sms: Mapping[str, str] = field(default_factory=dict)   # texts to the caller: before/success/failure
    card: bool | None = None        # hand-off card for the warm recipient (None: the recipient's setting)

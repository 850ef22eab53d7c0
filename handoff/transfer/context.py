"""What every part of a transfer's life shares: the store, the queue, URLs, Twilio and the settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..callback_urls import CallbackUrls
from ..clock import REAL, Clock
from ..config import AgentConnection
from ..destinations import AllowList
from ..gateway import TwilioGateway
from ..jobs import JobQueue
from ..store import Store
from ..summary import BuiltinSummariser, Summariser


@dataclass
class Context:
    """Built once per process (handoff.runtime); the gateway only when a worker first needs it."""

    store: Store
    jobs: JobQueue
    urls: CallbackUrls
    agent: AgentConnection
    allow_list: AllowList = field(default_factory=AllowList)
    router: Callable[[], Any] = lambda: None
    gateway_factory: Callable[[], TwilioGateway] | None = None
    summariser: Summariser = field(default_factory=BuiltinSummariser)
    caller_id: str | None = None            # TRANSFER_CALLER_ID
    fail_message: str | None = None         # TRANSFER_FAIL_MESSAGE
    hold_music_url: str | None = None       # HOLD_MUSIC_URL: what a waiting caller hears by default
    render: Callable[[Any], str] | None = None   # twiml.render, injected: the domain never imports twiml/
    clock: Clock = REAL                     # routing's time: HANDOFF_CLOCK in local mode, else real time
    local_mode: bool = False                # HANDOFF_LOCAL: a request may set its own time (`at`)
    twilio_cps: float = 1.0                 # TWILIO_CPS: Twilio queues the legs we dial beyond it
    _gateway: TwilioGateway | None = None

    @property
    def gateway(self) -> TwilioGateway:
        """The process's Twilio client, built on first use (web processes never need one)."""
        if self._gateway is None:
            if self.gateway_factory is None:
                raise RuntimeError("no Twilio gateway configured for this process")
            self._gateway = self.gateway_factory()
        return self._gateway

    @property
    def keys(self):
        return self.store.keys

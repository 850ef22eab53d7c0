"""The only module that talks to Twilio's REST API; one client per process, base URL from config."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger("handoff.gateway")

# Twilio error codes we act on (https://www.twilio.com/docs/api/errors).
CALL_NOT_IN_PROGRESS = 21220      # the call is not in a state that can be redirected (caller gone)
INVALID_TO = 21211
INVALID_DIAL_TARGET = 13224
NOT_FOUND = 20404


class GatewayError(Exception):
    """A REST request to Twilio failed; `code` is Twilio's error code when it gave one."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status

    @property
    def call_is_gone(self) -> bool:
        """The call we tried to change has already ended."""
        return self.code in (CALL_NOT_IN_PROGRESS, NOT_FOUND)


@dataclass(frozen=True)
class LegRequest:
    """An outbound recipient leg (warm transfers)."""

    to: str
    from_: str
    url: str
    status_callback: str
    timeout: int
    machine_detection: bool
    amd_callback: str | None = None
    send_digits: str | None = None
    sip_username: str | None = None
    sip_password: str | None = None


class TwilioGateway:
    """Twilio REST operations Handoff needs, with Twilio's errors turned into GatewayError."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str, timeout: float = 10.0):
        if not account_sid or not auth_token:
            raise ValueError("account_sid and auth_token are required")
        # One client (and so one pooled HTTP session) per process: connections are reused.
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        self.client.api.base_url = api_base.rstrip("/")

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TwilioRestException as exc:
            log.warning("twilio %s failed: %s %s", what, exc.code, exc.msg)
            raise GatewayError(f"{what}: {exc.msg}", code=exc.code, status=exc.status) from exc
        except (TwilioException, OSError) as exc:
            log.warning("twilio %s failed: %s", what, exc)
            raise GatewayError(f"{what}: {exc}") from exc

    def redirect_call(self, call_sid: str, *, twiml: str) -> None:
        """Replace what a live call is doing with a new TwiML document."""
        self._call("redirect call", self.client.calls(call_sid).update, twiml=twiml)

    def redirect_call_url(self, call_sid: str, *, url: str) -> None:
        """Make a live call fetch its next TwiML document from a URL."""
        self._call("redirect call", self.client.calls(call_sid).update, url=url, method="POST")

    def end_call(self, call_sid: str, *, ringing: bool) -> None:
        """Hang up a call: 'canceled' while it rings, 'completed' once answered."""
        status = "canceled" if ringing else "completed"
        self._call("end call", self.client.calls(call_sid).update, status=status)

    def create_leg(self, leg: LegRequest) -> str:
        """Dial a recipient leg; returns its call SID."""
        kwargs = dict(to=leg.to, from_=leg.from_, url=leg.url, method="POST",
                      status_callback=leg.status_callback, status_callback_method="POST",
                      status_callback_event=["initiated", "ringing", "answered", "completed"],
                      timeout=leg.timeout)
        if leg.machine_detection:
            kwargs.update(machine_detection="DetectMessageEnd", async_amd="true",
                          async_amd_status_callback=leg.amd_callback,
                          async_amd_status_callback_method="POST")
        if leg.send_digits:
            kwargs["send_digits"] = leg.send_digits
        if leg.sip_username:
            kwargs.update(sip_auth_username=leg.sip_username, sip_auth_password=leg.sip_password or "")
        call = self._call("create leg", self.client.calls.create, **kwargs)
        return call.sid

    def announce(self, conference_sid: str, *, announce_url: str) -> None:
        """Play an announcement to everyone in a conference."""
        self._call("announce", self.client.conferences(conference_sid).update, announce_url=announce_url,
                   announce_method="POST")

    def end_calls(self, call_sids: Sequence[tuple[str, bool]]) -> list[str]:
        """End several legs; returns the SIDs that could not be ended (already gone is fine)."""
        failed = []
        for sid, ringing in call_sids:
            try:
                self.end_call(sid, ringing=ringing)
            except GatewayError as exc:
                if not exc.call_is_gone:
                    failed.append(sid)
        return failed

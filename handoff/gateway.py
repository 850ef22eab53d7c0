"""The only module that talks to Twilio's REST API: one client per process, transient errors retried."""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, TypeVar

from requests.adapters import HTTPAdapter
from requests.exceptions import ConnectionError as RequestsConnectionError, ConnectTimeout
from urllib3.exceptions import ConnectTimeoutError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import metrics

log = logging.getLogger("handoff.gateway")
T = TypeVar("T")

# Twilio error codes we act on (https://www.twilio.com/docs/api/errors).
NOT_FOUND = 20404                 # the call does not exist (any more)
CALL_NOT_IN_PROGRESS = 21220      # the call cannot be changed: it has ended
INVALID_TO = 21211
INVALID_DIAL_TARGET = 13224       # (these, like every 4xx, are permanent: see is_transient)


class DialedLeg(NamedTuple):
    """A leg Twilio accepted: its call SID, and the seconds its calls-per-second queue holds it first
    (the Call resource's queue_time, in milliseconds; 0 when it is placed at once)."""

    sid: str
    queue_seconds: float = 0.0


def _seconds(queue_time) -> float:
    try:
        return max(0.0, float(queue_time or 0) / 1000)
    except (TypeError, ValueError):
        return 0.0


class GatewayError(Exception):
    """A REST request to Twilio failed for good (after retries when the failure was transient)."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None,
                 transient: bool = False):
        super().__init__(message)
        self.code = code
        self.status = status
        self.transient = transient

    @property
    def call_is_gone(self) -> bool:
        """The call we tried to change has already ended."""
        return self.code in (CALL_NOT_IN_PROGRESS, NOT_FOUND)


def is_transient(exc: Exception) -> bool:
    """429, 5xx and connection failures may succeed if tried again; 4xx answers will not."""
    if isinstance(exc, TwilioRestException):
        return exc.status == 429 or (exc.status or 0) >= 500
    return isinstance(exc, (TwilioException, OSError))


def never_reached_twilio(exc: Exception) -> bool:
    """429 (refused before doing anything) or a connection that was never made: safe to send again.
    A read timeout, a dropped answer or a 5xx may follow a request Twilio acted on."""
    if isinstance(exc, TwilioRestException):
        return exc.status == 429
    if isinstance(exc, ConnectTimeout):
        return True
    if isinstance(exc, RequestsConnectionError):
        cause = exc.args[0] if exc.args else None
        # urllib3 wraps the cause in MaxRetryError; NewConnectionError (refused, DNS) is a ConnectTimeoutError
        return isinstance(getattr(cause, "reason", cause), ConnectTimeoutError)
    return isinstance(exc, ConnectionRefusedError)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in tries and in total time."""

    tries: int = 4
    base: float = 0.25
    cap: float = 2.0
    budget: float = 6.0

    def delays(self):
        for n in range(self.tries - 1):
            yield random.uniform(0, min(self.cap, self.base * 2 ** n))


@dataclass(frozen=True)
class LegRequest:
    """An outbound recipient leg (warm transfers), with synchronous answering-machine detection."""

    to: str
    from_: str
    url: str
    status_callback: str
    timeout: int
    machine_detection: bool
    detection_timeout: int = 30
    detection_tuning: tuple[int | None, int | None, int | None] = (None, None, None)   # speech, speech end, silence
    send_digits: str | None = None
    sip_username: str | None = None
    sip_password: str | None = None
    call_token: str | None = None       # the inbound call's CallToken: lets From be the caller's number


class TwilioGateway:
    """Twilio REST operations Handoff needs, with Twilio's errors turned into GatewayError."""

    def __init__(self, *, account_sid: str, auth_token: str, api_base: str, timeout: float = 10.0,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 concurrency: int = 1):
        if not account_sid or not auth_token:
            raise ValueError("account_sid and auth_token are required")
        # One client (and so one pooled HTTP session) per process: connections are reused.
        http = TwilioHttpClient(timeout=timeout)
        # `concurrency` requests at once (a worker process's lanes) each keep their connection: the
        # client's own pool holds min(32, CPUs + 4) for https and requests' 10 for http, and drops
        # the connections beyond that after each request.
        adapter = HTTPAdapter(pool_maxsize=max(10, concurrency))
        http.session.mount("https://", adapter)
        http.session.mount("http://", adapter)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.client.api.base_url = api_base.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def _call(self, what: str, fn: Callable[..., T], *args, **kwargs) -> T:
        return self._call_retrying(is_transient, what, fn, *args, **kwargs)

    def _call_retrying(self, retryable: Callable[[Exception], bool], what: str, fn: Callable[..., T],
                       *args, **kwargs) -> T:
        """`fn` tried again (backoff, within the budget) while its failure is `retryable`."""
        started = time.monotonic()
        delays = self.retry.delays()
        while True:
            tried = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
                metrics.observe_twilio(what, "ok", time.perf_counter() - tried)
                return result
            except (TwilioException, OSError) as exc:
                transient = retryable(exc)
                delay = next(delays, None) if transient else None
                code = getattr(exc, "code", None)
                status = getattr(exc, "status", None)
                metrics.observe_twilio(what, str(status) if status else "connection", time.perf_counter() - tried)
                if delay is None or time.monotonic() - started + delay > self.retry.budget:
                    metrics.twilio_gave_up(what, transient=transient)
                    log.warning("twilio %s failed: %s %s", what, code or "", getattr(exc, "msg", exc))
                    raise GatewayError(f"{what}: {getattr(exc, 'msg', exc)}", code=code, status=status,
                                       transient=transient) from exc
                log.info("twilio %s: %s %s, retrying in %.2f s", what, status or "", code or exc, delay)
                self._sleep(delay)

    def redirect_call(self, call_sid: str, *, twiml: str) -> None:
        """Replace what a live call is doing with a new TwiML document."""
        self._call("redirect call", self.client.calls(call_sid).update, twiml=twiml)

    def end_call(self, call_sid: str, *, ringing: bool) -> None:
        """Hang up a call: 'canceled' while it rings, 'completed' once answered."""
        self._call("end call", self.client.calls(call_sid).update, status="canceled" if ringing else "completed")

    def call_status(self, call_sid: str) -> str:
        """A call's status as Twilio reports it now."""
        return self._call("fetch call", self.client.calls(call_sid).fetch).status

    def child_statuses(self, parent_sid: str) -> dict[str, str]:
        """The legs a call dialed (<Dial> children), SID -> status."""
        calls = self._call("list calls", self.client.calls.list, parent_call_sid=parent_sid, limit=20)
        return {c.sid: c.status for c in calls}

    def in_conference(self, friendly_name: str, call_sid: str) -> bool:
        """Whether a call is a participant of the live conference with this name."""
        rooms = self._call("list conferences", self.client.conferences.list, friendly_name=friendly_name,
                           status="in-progress", limit=5)
        for room in rooms:
            try:
                self._call("fetch participant", room.participants(call_sid).fetch)
                return True
            except GatewayError as exc:
                if exc.code != NOT_FOUND and exc.status != 404:
                    raise
        return False

    def create_leg(self, leg: LegRequest) -> DialedLeg:
        """Dial a recipient leg; returns its call SID and how long Twilio expects to queue it.

        Detection is synchronous: Twilio requests the leg's Url only once it has a verdict, and
        sends it as AnsweredBy, so the webhook answers the whisper (or a hang-up) at once.
        A 5xx may leave a leg created that we never hear of; it is retried anyway, because a
        stranded caller costs more than a duplicate ring (whose webhooks are refused)."""
        kwargs = dict(to=leg.to, from_=leg.from_, url=leg.url, method="POST",
                      status_callback=leg.status_callback, status_callback_method="POST",
                      status_callback_event=["initiated", "ringing", "answered", "completed"],
                      timeout=leg.timeout)
        if leg.machine_detection and not leg.send_digits:
            # Twilio ignores MachineDetection with SendDigits; then the consent prompt screens.
            kwargs.update(machine_detection="Enable",
                          machine_detection_timeout=max(3, min(59, int(leg.detection_timeout))))
            speech, speech_end, silence = leg.detection_tuning
            tuning = {"machine_detection_speech_threshold": speech,
                      "machine_detection_speech_end_threshold": speech_end,
                      "machine_detection_silence_timeout": silence}
            kwargs.update({name: value for name, value in tuning.items() if value is not None})
        if leg.send_digits:
            kwargs["send_digits"] = leg.send_digits
        if leg.sip_username:
            kwargs.update(sip_auth_username=leg.sip_username, sip_auth_password=leg.sip_password or "")
        if leg.call_token:
            kwargs["call_token"] = leg.call_token
        call = self._call("create leg", self.client.calls.create, **kwargs)
        return DialedLeg(call.sid, _seconds(getattr(call, "queue_time", None)))

    def send_message(self, *, to: str, from_: str, body: str, status_callback: str | None = None) -> str:
        """Send an SMS; returns its message SID. Twilio's refusals (21610 unsubscribed, 21408 region not
        enabled, 21614 not a mobile number...) are 400s: GatewayError with the code, never retried.

        Tried again only when Twilio cannot have taken the message (429, no connection: see
        never_reached_twilio); GatewayError.transient then says it may be sent later. A read timeout or
        a 5xx is not retried and not transient: the message may have gone, and a text twice is worse."""
        kwargs = dict(to=to, from_=from_, body=body)
        if status_callback:
            kwargs["status_callback"] = status_callback
        return self._call_retrying(never_reached_twilio, "send message", self.client.messages.create, **kwargs).sid

    def announce(self, conference_sid: str, *, announce_url: str) -> None:
        """Play an announcement to everyone in a conference."""
        self._call("announce", self.client.conferences(conference_sid).update, announce_url=announce_url,
                   announce_method="POST")

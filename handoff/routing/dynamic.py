"""Dynamic destinations: ask a recipient's webhook (a CRM, an on-call tool) where to send the call.

The request is a POST of JSON: the context the worker passes (call sid, caller, variables, ...)
plus "recipient" (the dynamic recipient's name), "timestamp" (Unix seconds, real time: the
replay check) and "now" (ISO 8601: the time the transfer is routed at; the real time, except in
local mode with a set clock: HANDOFF_CLOCK or the request's `at`), signed with
`X-Handoff-Signature: sha256=<hex HMAC-SHA256 of the raw body with the recipient's secret>`.
The webhook answers 200 with {"destination": "+14155550123" | "<configured recipient name>",
"name": "optional display name"}. The answer is checked like any other destination: a configured
static recipient, or an E.164 number allowed by TRANSFER_ALLOWED_PREFIXES (SIP and client
addresses from a webhook are refused). Any failure raises RoutingError so the worker takes the
fallback.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timezone

from ..destinations import DestinationError, parse_raw_target
from ..targets import Target
from .errors import RoutingError
from .variables import Scope

MAX_ANSWER = 64 * 1024
SIGNATURE_HEADER = "X-Handoff-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """For webhook implementers (and the demo endpoint): constant-time check of the header."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a webhook must answer, not bounce us elsewhere
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def resolve(router, name: str, *, context: Mapping, timeout: float | None = None,
            now: datetime | None = None) -> Target:
    r = router.config.recipients.get(name)
    if r is None or r.type != "dynamic":
        raise RoutingError(f"{name!r} is not a dynamic recipient", field="to")
    hook = r.webhook
    what = f"dynamic recipient {name!r}"
    payload = dict(context or {})
    payload.setdefault("recipient", name)
    payload.setdefault("timestamp", int(time.time()))
    payload.setdefault("now", (now or datetime.now(timezone.utc)).isoformat())
    body = json.dumps(payload, default=str, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "handoff-routing/1", SIGNATURE_HEADER: sign(hook.secret, body)}
    headers.update(dict(hook.headers))
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    limit = hook.timeout if timeout is None else min(timeout, hook.timeout)
    started = time.monotonic()
    try:
        with _opener.open(request, timeout=limit) as response:
            status = response.status
            raw = response.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        raise RoutingError(f"{what}: webhook answered HTTP {exc.code}", field="to") from None
    except (socket.timeout, TimeoutError):
        raise RoutingError(f"{what}: webhook did not answer within {limit:g}s", field="to") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise RoutingError(f"{what}: webhook did not answer within {limit:g}s", field="to") from None
        raise RoutingError(f"{what}: webhook unreachable ({reason})", field="to") from None
    except OSError as exc:
        raise RoutingError(f"{what}: webhook failed ({exc})", field="to") from None
    if time.monotonic() - started > limit:
        raise RoutingError(f"{what}: webhook did not answer within {limit:g}s", field="to")
    if status != 200:
        raise RoutingError(f"{what}: webhook answered HTTP {status}, expected 200", field="to")
    if len(raw) > MAX_ANSWER:
        raise RoutingError(f"{what}: webhook answer is larger than {MAX_ANSWER} bytes", field="to")
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RoutingError(f"{what}: webhook answer is not JSON", field="to") from None
    destination = answer.get("destination") if isinstance(answer, dict) else None
    if not isinstance(destination, str) or not destination.strip():
        raise RoutingError(f"{what}: webhook answer has no \"destination\" string", field="to")
    destination = destination.strip()

    configured = router.config.recipients.get(destination)
    if configured is not None:
        if configured.type == "dynamic":
            raise RoutingError(f"{what}: webhook named {destination!r}, another dynamic recipient", field="to")
        variables = context.get("variables") if isinstance(context, Mapping) else None
        scope = Scope(variables if isinstance(variables, Mapping) else {}, {}, router.config.variables)
        return router.target_for(configured, scope)
    try:
        target = parse_raw_target(destination, router.allow_list)
    except DestinationError as exc:
        raise RoutingError(f"{what}: webhook answered {destination!r}, refused: {exc.reason}", field="to") from None
    return Target(kind=target.kind, address=target.address, recipient=name, send_digits=target.send_digits)

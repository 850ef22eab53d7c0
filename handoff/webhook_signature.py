"""Signing and verifying event webhooks: `Handoff-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The HMAC-SHA256, keyed with EVENTS_SECRET, is computed over `f"{t}.{body}"`: the timestamp, a dot
and the raw request body, exactly as received (the Stripe scheme). Signing the timestamp with the
body lets a receiver refuse old (replayed) deliveries. This module uses only the standard library,
so a receiver may copy it as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Handoff-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300       # seconds a signed delivery stays acceptable (clock skew + transit)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def compute(secret: bytes | str, body: bytes | str, timestamp: int) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.{body}` with the secret."""
    return hmac.new(_bytes(secret), b"%d." % int(timestamp) + _bytes(body), hashlib.sha256).hexdigest()


def sign(secret: bytes | str, body: bytes | str, timestamp: int | None = None) -> str:
    """The Handoff-Signature header's value for this body, at `timestamp` (default: now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={compute(secret, body, t)}"


def parse(header: str | None) -> tuple[int | None, list[str]]:
    """The header's timestamp and its v1 signatures (several while a secret is being rotated)."""
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value.strip())
    return timestamp, signatures


def verify(secret: bytes | str, body: bytes | str, header: str | None, tolerance: int = DEFAULT_TOLERANCE,
           *, now: float | None = None) -> bool:
    """True when `header` signs this exact body with the secret, within `tolerance` seconds of now.

    Pass the raw body as received (not re-serialised JSON). `tolerance=0` skips the age check."""
    timestamp, signatures = parse(header)
    if timestamp is None or not signatures:
        return False
    if tolerance and abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = compute(secret, body, timestamp).encode()
    # Constant-time, on bytes (compare_digest refuses non-ASCII str); every candidate is compared.
    return sum(hmac.compare_digest(expected, s.encode()) for s in signatures) > 0

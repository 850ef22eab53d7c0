"""The hand-off card's link token: a transfer, its accepted leg and a hard expiry, signed (HMAC-SHA256).

The link is the credential, so the token must be unforgeable and short enough for an SMS. Layout
(base64url, no padding): 4 bytes expiry (Unix seconds), the ids, then the first 16 bytes of the
HMAC-SHA256 of everything before it. Our own ids (tr_ + 24 hex, CA + 32 hex) are packed as bytes
(66 characters in all); any other shape is carried as text. A token that does not decode or whose
MAC does not match is simply unknown: the caller of `verify` answers it like a card that never existed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

MAC_BYTES = 16                 # 128 bits: forging one is out of reach; the link stays SMS-sized
MAX_TOKEN_CHARS = 400          # longer input is refused before any decoding
_PACKED, _TEXT = 1, 2
_TRANSFER_RE = re.compile(r"tr_[0-9a-f]{24}")
_LEG_RE = re.compile(r"CA[0-9a-f]{32}")


def card_key(secret_key: str | None, auth_token: str) -> bytes:
    """The signing key: SECRET_KEY, or (unset) one derived from the Twilio auth token.

    Derived rather than the token itself, so a card's MAC never doubles as anything Twilio signs;
    rotating the auth token (or setting SECRET_KEY) invalidates every card link sent before."""
    if secret_key:
        return hashlib.sha256(b"handoff-card-key\x00" + secret_key.encode()).digest()
    return hmac.new(auth_token.encode(), b"handoff-card-key", hashlib.sha256).digest()


@dataclass(frozen=True)
class CardClaim:
    """What a genuine token says: the transfer, the leg that accepted it, and when the link stops working."""

    transfer_id: str
    leg: str
    expires: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"handoff-card\x00" + payload, hashlib.sha256).digest()[:MAC_BYTES]


def sign(key: bytes, transfer_id: str, leg: str, expires: int) -> str:
    """The token for a card on `transfer_id`, accepted by `leg`, valid until `expires` (Unix seconds) at most."""
    if _TRANSFER_RE.fullmatch(transfer_id) and _LEG_RE.fullmatch(leg):
        ids = bytes([_PACKED]) + bytes.fromhex(transfer_id[3:]) + bytes.fromhex(leg[2:])
    else:
        ids = bytes([_TEXT]) + f"{transfer_id}|{leg}".encode()
    payload = struct.pack(">I", int(expires)) + ids
    return _b64(payload + _mac(key, payload))


def verify(key: bytes, token: str) -> CardClaim | None:
    """The claim of a token this key signed; None for anything else (tampered, truncated, garbage)."""
    if not token or len(token) > MAX_TOKEN_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        return None
    if len(raw) < 5 + MAC_BYTES or _b64(raw) != token:
        return None     # too short, or a non-canonical spelling (base64's spare bits changed) of a token
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    (expires,), kind, ids = struct.unpack(">I", payload[:4]), payload[4], payload[5:]
    if kind == _PACKED and len(ids) == 28:
        return CardClaim("tr_" + ids[:12].hex(), "CA" + ids[12:].hex(), expires)
    if kind == _TEXT:
        transfer_id, _, leg = ids.decode("utf-8", "replace").partition("|")
        return CardClaim(transfer_id, leg, expires) if transfer_id and leg else None
    return None

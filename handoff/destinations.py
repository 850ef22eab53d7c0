"""Turning a free-form destination into a Target, and refusing anything not allowed (toll fraud)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import phonenumbers

from .targets import Target, TargetKind

_SIP_RE = re.compile(r"^sips?:[^@\s]+@[A-Za-z0-9.\-]+(:\d+)?(;[^?\s]*)?(\?[^\s]*)?$")
_CLIENT_RE = re.compile(r"^client:[A-Za-z0-9_.\-]{1,121}$")


class DestinationError(ValueError):
    """A destination that cannot be dialed; `reason` is safe to show to the caller of the API."""

    def __init__(self, destination: str, reason: str):
        super().__init__(f"{destination!r}: {reason}")
        self.destination = destination
        self.reason = reason


def parse_e164(number: str) -> str:
    """Parse and validate a phone number; returns its E.164 form or raises DestinationError."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise DestinationError(number, f"not a phone number in E.164 form ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise DestinationError(number, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class AllowList:
    """E.164 prefixes a raw number may start with (TRANSFER_ALLOWED_PREFIXES)."""

    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str | None) -> "AllowList":
        """Build from a comma-separated list such as '+1415,+44'; raises ValueError if malformed."""
        prefixes = tuple(p.strip() for p in (value or "").split(",") if p.strip())
        for prefix in prefixes:
            if not re.fullmatch(r"\+\d{1,15}", prefix):
                raise ValueError(f"{prefix!r} is not a '+' followed by digits")
        return cls(prefixes)

    def allows(self, e164: str) -> bool:
        """True when the E.164 number starts with one of the prefixes."""
        return any(e164.startswith(prefix) for prefix in self.prefixes)


def parse_raw_target(destination: str, allow_list: AllowList) -> Target:
    """A destination that is not a configured recipient: only a number on the allow-list passes.

    SIP URIs and client identities are refused here on purpose: they can only be reached through
    a configured recipient, because a SIP URI can route anywhere (including PSTN gateways).
    """
    destination = destination.strip()
    if destination.startswith(("sip:", "sips:", "client:")):
        raise DestinationError(destination, "SIP and client destinations must be configured recipients")
    e164 = parse_e164(destination)
    if not allow_list.allows(e164):
        raise DestinationError(destination, "not a configured recipient and not in TRANSFER_ALLOWED_PREFIXES")
    return Target(kind=TargetKind.NUMBER, address=e164)


def check_sip_uri(uri: str) -> str:
    """Validate a SIP URI's shape; returns it unchanged or raises DestinationError."""
    if not _SIP_RE.match(uri):
        raise DestinationError(uri, "not a SIP URI (sip:user@host)")
    return uri


def check_client(identity: str) -> str:
    """Validate a client identity; accepts 'alice' or 'client:alice', returns 'client:alice'."""
    value = identity if identity.startswith("client:") else f"client:{identity}"
    if not _CLIENT_RE.match(value):
        raise DestinationError(identity, "not a valid client identity")
    return value


def sip_uri_with_headers(target: Target) -> str:
    """The SIP URI Twilio should dial, with X- headers appended as URI parameters after '?'."""
    if not target.sip_headers:
        return target.address
    from urllib.parse import quote

    joiner = "&" if "?" in target.address else "?"
    query = "&".join(f"{quote(k, safe='-')}={quote(v, safe='')}" for k, v in target.sip_headers)
    return f"{target.address}{joiner}{query}"


def split_sip_headers(uri: str) -> tuple[str, dict[str, str]]:
    """Inverse of sip_uri_with_headers: the bare URI and its ?X-…= headers."""
    base, _, query = uri.partition("?")
    headers = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        headers[unquote(key)] = unquote(value)
    return base, headers

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


# A number as people write it: '+', digits and the usual separators, nothing else.
_NUMBER_RE = re.compile(r"^\+?[0-9][0-9\s().\-/]*$")
# The extension notations we read (phonenumbers reads the digits): ",1234" (dialer pauses),
# ";ext=1234" (RFC 3966), " x 1234", "ext. 1234", "extension 1234", "#1234"; an IVR's closing '#'
# after the digits is kept and dialed.
_EXTENSION_RE = re.compile(
    r"^(?P<number>.*?)\s*(?:,+|;\s*ext\s*=|#|(?<![A-Za-z])(?:x|ext|extn|extension)\.?)\s*"
    r"(?P<digits>[0-9]{1,30})?(?P<end>\s*#)?\s*$", re.IGNORECASE)


def _parse(number: str) -> phonenumbers.PhoneNumber:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise DestinationError(number, f"not a phone number in E.164 form ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise DestinationError(number, "not a valid phone number")
    return parsed


def parse_number(number: str) -> tuple[str, str | None]:
    """(E.164, extension) of a number that may carry an extension; raises DestinationError.

    The extension is digits (plus a closing '#' when written); anything phonenumbers would have
    dropped silently (letters, a stray 'x', '*') is refused instead, so no digit is ever lost.
    """
    text = (number or "").strip()
    extension = None
    match = _EXTENSION_RE.match(text) if not _NUMBER_RE.match(text) else None
    if match and _NUMBER_RE.match(match.group("number")):
        if not match.group("digits"):
            raise DestinationError(number, "the extension has no digits (write e.g. +14155550100;ext=1234)")
        text = match.group("number")
        extension = match.group("digits") + ("#" if match.group("end") else "")
    if not _NUMBER_RE.match(text):
        raise DestinationError(number, "not a phone number in E.164 form: '+', digits and an optional "
                                       "extension such as ';ext=1234', ',1234', ' x 1234' or 'ext. 1234'")
    parsed = _parse(text)
    if extension is not None:
        # phonenumbers must read the same extension from the whole text as we did.
        try:
            theirs = phonenumbers.parse(number, None).extension
        except phonenumbers.NumberParseException:
            theirs = None
        if theirs != extension.rstrip("#"):
            raise DestinationError(number, "the extension cannot be read; write e.g. +14155550100;ext=1234")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), extension


def parse_e164(number: str) -> str:
    """Parse and validate a phone number without an extension (caller IDs); returns its E.164 form."""
    e164, extension = parse_number(number)
    if extension is not None:
        raise DestinationError(number, "an extension is not allowed here")
    return e164


def send_digits(extension: str | None) -> str | None:
    """Twilio's sendDigits for an extension: a 1 s pause ('ww') first unless it starts with its own 'w'."""
    if not extension:
        return None
    return extension if extension[:1] in ("w", "W") else f"ww{extension}"


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
    e164, extension = parse_number(destination)
    if not allow_list.allows(e164):
        raise DestinationError(destination, "not a configured recipient and not in TRANSFER_ALLOWED_PREFIXES")
    return Target(kind=TargetKind.NUMBER, address=e164, send_digits=send_digits(extension))


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

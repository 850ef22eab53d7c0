"""`<name>` placeholders and where their values come from.

Precedence (first wins): the request's `variables`, then the call's variables (set earlier in
the call), then the recipient's fixed `variables:` in the file, then the file's top-level
`variables:`. `caller_country` is derived from the caller's number when not given.

A value bound into an address must be address-safe (digits for numbers and extensions, a SIP
user part for SIP URIs, ...): a variable can pick *which* desk, never *where* a call goes.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers

from ..placeholders import PLACEHOLDER_RE, RUNTIME_PLACEHOLDERS
from .errors import RoutingError

__all__ = ["PLACEHOLDER_RE", "RUNTIME_PLACEHOLDERS", "SAFE", "Scope", "caller_country", "placeholders"]

# What a bound value may contain, per field kind. None = anything printable.
SAFE = {
    "number": re.compile(r"^\+?[0-9]{1,15}$"),
    "extension": re.compile(r"^[0-9*#wW]{1,32}$"),
    "sip_uri": re.compile(r"^[A-Za-z0-9_.!~*'()\-+%]{1,64}$"),
    "client": re.compile(r"^[A-Za-z0-9_.\-]{1,100}$"),
    "sip_header": re.compile(r"^[^\x00-\x1f\x7f]{0,256}$"),
    "text": re.compile(r"^[^\x00-\x08\x0b-\x1f\x7f]{0,2000}$"),
}


def placeholders(text: str | None) -> list[str]:
    """The placeholder names in `text`, in order of appearance, without duplicates."""
    seen: list[str] = []
    for name in PLACEHOLDER_RE.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def caller_country(number: str | None) -> str | None:
    """ISO region code ('US', 'GB', ...) of a phone number, or None."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(str(number).strip(), None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != "ZZ" else None


class Scope:
    """The merged variables of one routing request, remembering where each value came from."""

    def __init__(self, request: Mapping | None = None, call: Mapping | None = None,
                 file_fixed: Mapping | None = None):
        self.request = {str(k): _as_text(v) for k, v in (request or {}).items()}
        self.call = {str(k): _as_text(v) for k, v in (call or {}).items()}
        self.file_fixed = {str(k): _as_text(v) for k, v in (file_fixed or {}).items()}
        self.derived: dict[str, str] = {}
        if "caller_country" not in self.request and "caller_country" not in self.call:
            caller = self.request.get("caller") or self.call.get("caller") or self.call.get("from") \
                or self.request.get("from")
            country = caller_country(caller)
            if country:
                self.derived["caller_country"] = country

    def layers(self, recipient_fixed: Mapping | None = None) -> list[tuple[str, dict]]:
        fixed = {str(k): _as_text(v) for k, v in (recipient_fixed or {}).items()}
        return [("request", self.request), ("call", self.call), ("derived", self.derived),
                ("recipient", fixed), ("file", self.file_fixed)]

    def lookup(self, name: str, recipient_fixed: Mapping | None = None) -> tuple[str | None, str | None]:
        """(value, source) of a variable, or (None, None) when unbound."""
        for source, values in self.layers(recipient_fixed):
            if name in values:
                return values[name], source
        return None, None

    def merged(self, recipient_fixed: Mapping | None = None) -> dict[str, str]:
        result: dict[str, str] = {}
        for _, values in reversed(self.layers(recipient_fixed)):
            result.update(values)
        return result

    def explain(self) -> dict:
        """Every variable with its value and source, for explain output."""
        out = {}
        for source, values in reversed(self.layers()):
            for k, v in values.items():
                out[k] = {"value": v, "source": source}
        return dict(sorted(out.items()))

    def bind(self, text: str | None, *, kind: str, what: str,
             recipient_fixed: Mapping | None = None, strict: bool = True) -> str | None:
        """Fill every `<name>` in `text`; raises RoutingError naming an unbound or unsafe one.

        `kind` is a key of SAFE ("number", "sip_uri", ...); `what` names the field for messages,
        e.g. "recipient 'billing' number". With `strict=False` a name that cannot be bound (unbound,
        or its value unsafe) stays as written instead.
        """
        if text is None:
            return None
        allow_runtime = kind == "text"
        safe = SAFE[kind]

        def repl(match: re.Match) -> str:
            name = match.group(1)
            value, _source = self.lookup(name, recipient_fixed)
            if value is None:
                if (allow_runtime and name in RUNTIME_PLACEHOLDERS) or not strict:
                    return match.group(0)
                raise RoutingError(
                    f"placeholder <{name}> in {what} is not bound: pass '{name}' in variables "
                    f"(request or call) or give it a fixed value in the file",
                    field=f"variables.{name}")
            if not safe.match(value):
                if not strict:
                    return match.group(0)
                raise RoutingError(
                    f"variable '{name}' = {value!r} cannot be used in {what}: "
                    f"it must be a plain {kind.replace('_', ' ')} value",
                    field=f"variables.{name}")
            return value

        return PLACEHOLDER_RE.sub(repl, text)

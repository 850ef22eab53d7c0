"""The recipients file's field types (times, days, dates, names, texts that may read the environment)."""
from __future__ import annotations

import os
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, fields

from .hours import parse_clock, parse_days

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Clock(fields.Field):
    """'09:00' (YAML may hand us 540 for an unquoted 09:00... or 1020 for 17:00)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_clock(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Day(fields.Field):
    """A calendar date: YAML date or 'YYYY-MM-DD'."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Days(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_days(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class NameList(fields.Field):
    """A name or a list of names."""

    def _deserialize(self, value, attr, data, **kwargs):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise ValidationError("must be a name or a list of names")
        return tuple(i.strip() for i in items)


class Text(fields.String):
    """A string; YAML scalars like 42 or true are accepted as their text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class EnvText(Text):
    """A string that may reference environment variables as ${NAME} or ${NAME:-default}."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)

        def repl(m):
            env = os.environ.get(m.group(1), m.group(2))
            if env is None:
                raise ValidationError(f"environment variable {m.group(1)} is not set")
            return env
        return _ENV_RE.sub(repl, value)


class Secret(EnvText):
    """A secret (masked when listed) that may come from the environment."""


def _tz(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from None

"""The recipients file as Python objects: recipients, groups, rotations, rules."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .hours import DAYS, Hours

RECIPIENT_TYPES = ("number", "sip", "client", "agent", "dynamic")
LAST_RESORT = "last_resort"   # reserved fallback name: no further steps, the plan's last resort


@dataclass(frozen=True)
class Webhook:
    """Where a dynamic recipient's destination comes from."""

    url: str
    secret: str
    timeout: float = 3.0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Recipient:
    name: str
    type: str                                   # number | sip | client | agent | dynamic
    description: str = ""
    languages: tuple[str, ...] = ()
    hours: Hours | None = None
    delivery: dict = field(default_factory=dict)  # DeliverySettings overrides
    fallback: tuple[str, ...] = ()
    variables: dict = field(default_factory=dict)
    expose: bool = True                          # listed in the LLM tool's destinations
    # number
    number: str | None = None
    extension: str | None = None
    allowed_prefixes: tuple[str, ...] = ()       # extra prefixes for a templated number
    # sip
    sip_uri: str | None = None
    sip_headers: tuple[tuple[str, str], ...] = ()
    sip_username: str | None = None
    sip_password: str | None = None
    # client
    identity: str | None = None
    # agent
    agent_url: str | None = None
    # dynamic
    webhook: Webhook | None = None

    @property
    def address_template(self) -> str | None:
        return {"number": self.number, "sip": self.sip_uri, "client": self.identity,
                "agent": self.agent_url, "dynamic": None}[self.type]


@dataclass(frozen=True)
class Group:
    name: str
    strategy: str                                # parallel | sequential
    members: tuple[str, ...]
    description: str = ""
    delivery: dict = field(default_factory=dict)
    fallback: tuple[str, ...] = ()
    hours: Hours | None = None
    expose: bool = True


@dataclass(frozen=True)
class Override:
    first: date
    last: date
    member: str
    reason: str | None = None


@dataclass(frozen=True)
class Rotation:
    """Members take turns: each shift lasts `shift_days` and starts at `handover` local time.

    The first member's first shift starts on `start` at `handover`; overrides replace whoever
    is on call for whole local dates.
    """

    name: str
    timezone: str
    start: date
    handover: time
    members: tuple[str, ...]
    shift_days: int = 7
    overrides: tuple[Override, ...] = ()
    description: str = ""
    delivery: dict = field(default_factory=dict)
    fallback: tuple[str, ...] = ()
    expose: bool = True

    def on_call(self, now: datetime) -> tuple[str, str]:
        """(member name, why) for the instant `now`."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        local = now.astimezone(ZoneInfo(self.timezone))
        stamp = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        for ov in self.overrides:
            if ov.first <= local.date() <= ov.last:
                why = f" ({ov.reason})" if ov.reason else ""
                return ov.member, (f"rotation {self.name!r}: override {ov.first}..{ov.last}{why} "
                                   f"puts {ov.member!r} on call at {stamp}")
        # count whole local days since the first hand-over, on wall-clock time (DST-proof)
        days = (local.date() - self.start).days
        if local.time().replace(tzinfo=None) < self.handover:
            days -= 1
        shift = days // self.shift_days
        member = self.members[shift % len(self.members)]
        shift_start = self.start + timedelta(days=shift * self.shift_days)
        return member, (f"rotation {self.name!r}: shift #{shift} started {shift_start} "
                        f"{self.handover:%H:%M} ({DAYS[shift_start.weekday()]}) {self.timezone}, "
                        f"{member!r} is on call at {stamp}")


@dataclass(frozen=True)
class Condition:
    """One test on a variable: equals, not_equals, in, not_in, matches, present."""

    variable: str
    op: str
    value: object            # str | tuple[str, ...] | re.Pattern | bool

    def test(self, actual: str | None) -> bool:
        if self.op == "present":
            return (actual not in (None, "")) is bool(self.value)
        if actual is None:
            return self.op in ("not_equals", "not_in")
        norm = actual.strip().casefold()
        if self.op == "equals":
            return norm == str(self.value).casefold()
        if self.op == "not_equals":
            return norm != str(self.value).casefold()
        if self.op == "in":
            return norm in {v.casefold() for v in self.value}
        if self.op == "not_in":
            return norm not in {v.casefold() for v in self.value}
        if self.op == "matches":
            return bool(self.value.fullmatch(actual.strip()))
        raise ValueError(self.op)

    def label(self) -> str:
        if self.op == "matches":
            return f"{self.variable} matches /{self.value.pattern}/"
        if self.op in ("in", "not_in"):
            return f"{self.variable} {self.op.replace('_', ' ')} [{', '.join(self.value)}]"
        if self.op == "present":
            return f"{self.variable} is {'present' if self.value else 'absent'}"
        return f"{self.variable} {'=' if self.op == 'equals' else '!='} {self.value}"

    def expected(self):
        if isinstance(self.value, re.Pattern):
            return self.value.pattern
        if isinstance(self.value, tuple):
            return list(self.value)
        return self.value


@dataclass(frozen=True)
class Rule:
    name: str
    to: str
    conditions: tuple[Condition, ...] = ()
    during: Hours | None = None        # a time-window condition: outside it the rule doesn't match
    hours: Hours | None = None         # business hours: matched but closed -> fallback
    fallback: tuple[str, ...] = ()
    description: str = ""
    delivery: dict = field(default_factory=dict)
    expose: bool = True


@dataclass(frozen=True)
class Config:
    path: str
    recipients: dict[str, Recipient]
    groups: dict[str, Group] = field(default_factory=dict)
    rotations: dict[str, Rotation] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    variables: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    fallback: tuple[str, ...] = ()     # when no rule matches
    hours: dict[str, Hours] = field(default_factory=dict)
    tool_name: str = "transfer_call"
    tool_description: str | None = None

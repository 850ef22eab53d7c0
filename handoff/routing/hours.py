"""Business hours: an IANA time zone, weekly windows and dated closures.

Everything is evaluated on local wall-clock time obtained with zoneinfo, so a window
"mon-fri 09:00-17:00" opens at 09:00 local time on both sides of a DST change.
A window whose end is not after its start crosses midnight ("fri 22:00-02:00" is open
Friday 22:00 until Saturday 02:00). A dated closure covers the whole local calendar day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

# datetime spans years 1..9999: keep a year's margin so that any zone's offset, and a rotation's
# shift start (at most 366 days back), stay representable.
EARLIEST = datetime(2, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9998, 12, 31, tzinfo=timezone.utc)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {d: i for i, d in enumerate(DAYS)}
_DAY_ALIASES.update({
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
})


def check_instant(value: datetime) -> datetime:
    """`value` (naive = UTC) if hours, rules and rotations can evaluate it; raises ValueError otherwise."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        utc = value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{value.isoformat()} is out of range: give a time between "
                         f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return value


def parse_days(value) -> frozenset[int]:
    """'mon-fri', 'sat,sun', ['mon', 'wed'], 'daily' -> set of weekday numbers (0 = Monday)."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    result: set[int] = set()
    for item in items:
        item = str(item).strip().lower()
        if item in ("daily", "all", "every day", "*"):
            result.update(range(7))
            continue
        if "-" in item:
            first, _, last = item.partition("-")
            a, b = _day(first), _day(last)
            i = a
            while True:
                result.add(i)
                if i == b:
                    break
                i = (i + 1) % 7
        else:
            result.add(_day(item))
    if not result:
        raise ValueError("no days given")
    return frozenset(result)


def _day(name: str) -> int:
    name = name.strip().lower()
    if name not in _DAY_ALIASES:
        raise ValueError(f"{name!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
    return _DAY_ALIASES[name]


def parse_clock(value) -> time:
    """'09:00' -> time(9, 0); '24:00' -> time.max (end of day)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as sexagesimal minutes
        value = f"{value // 60:02d}:{value % 60:02d}"
    text = str(value).strip()
    if text in ("24:00", "24:00:00"):
        return time.max
    try:
        parts = [int(p) for p in text.split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        return time(*parts)
    except (ValueError, TypeError):
        raise ValueError(f"{value!r} is not a time of day (HH:MM)") from None


def days_label(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{DAYS[ordered[0]]}-{DAYS[ordered[-1]]}"
    return ",".join(DAYS[d] for d in ordered)


def _clock_label(t: time) -> str:
    return "24:00" if t == time.max else t.strftime("%H:%M")


@dataclass(frozen=True)
class Window:
    """Open on `days` from `start` to `end` local time (crossing midnight when end <= start)."""

    days: frozenset[int]
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start and self.end != time.max

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        wd = local.weekday()
        if not self.crosses_midnight:
            return wd in self.days and t >= self.start and (self.end == time.max or t < self.end)
        # open from start on one of the days until end on the next day
        return (wd in self.days and t >= self.start) or ((wd - 1) % 7 in self.days and t < self.end)

    def label(self) -> str:
        return f"{days_label(self.days)} {_clock_label(self.start)}-{_clock_label(self.end)}"


@dataclass(frozen=True)
class Closure:
    """Closed on every local date from `first` to `last` inclusive (a holiday)."""

    first: date
    last: date
    reason: str | None = None

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last

    def label(self) -> str:
        span = self.first.isoformat() if self.first == self.last else f"{self.first}..{self.last}"
        return f"{span} ({self.reason})" if self.reason else span


@dataclass(frozen=True)
class HoursCheck:
    """The outcome of checking hours at one instant, with a sentence saying why."""

    open: bool
    reason: str
    kind: str          # "window" | "closure" | "outside" | "always"
    local_time: str    # e.g. "2026-03-09 09:30 EDT (mon)"

    def as_dict(self) -> dict:
        return {"open": self.open, "reason": self.reason, "kind": self.kind, "local_time": self.local_time}


@dataclass(frozen=True)
class Hours:
    """Weekly windows in a time zone plus dated closures. No windows means open all week."""

    timezone: str
    windows: tuple[Window, ...] = ()
    closures: tuple[Closure, ...] = ()
    name: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def check(self, now: datetime) -> HoursCheck:
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        local = now.astimezone(self.zone)
        stamp = f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({DAYS[local.weekday()]})"
        who = f"hours {self.name!r}" if self.name else "hours"
        for closure in self.closures:
            if closure.contains(local.date()):
                return HoursCheck(False, f"closed: dated closure {closure.label()} in {self.timezone}, "
                                         f"local time {stamp}", "closure", stamp)
        if not self.windows:
            return HoursCheck(True, f"open: {who} have no weekly windows (always open), local time {stamp}",
                              "always", stamp)
        for window in self.windows:
            if window.contains(local):
                return HoursCheck(True, f"open: inside weekly window {window.label()} {self.timezone}, "
                                        f"local time {stamp}", "window", stamp)
        labels = "; ".join(w.label() for w in self.windows)
        return HoursCheck(False, f"closed: outside weekly windows ({labels}) {self.timezone}, "
                                 f"local time {stamp}", "outside", stamp)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "timezone": self.timezone,
            "weekly": [w.label() for w in self.windows],
            "closed": [c.label() for c in self.closures],
        }

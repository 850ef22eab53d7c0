"""Reading a window of hourly aggregates, pipelined, and keeping the sums of closed hours.

A UTC hour that ended SETTLE ago no longer changes (until it expires), so each process keeps what
it summed: closed days (their groups merged, each hour's all=* metrics), the sums of a run of days
as a window in one time zone last asked for them, and closed hours at windows' edges. A repeated
window then reads only its open hours from Redis (one pipelined round trip), whatever the volume
behind it; the first read of weeks goes FETCH_HOURS hashes per round trip, so memory stays bounded.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, available_timezones

import redis

from ..keys import Keys
from .figures import ESTIMATE_NOTE, figures, iso, parse_bound, parse_field, point

MAX_WINDOW = timedelta(days=90)
DEFAULT_WINDOW = timedelta(days=7)
GROUPS = ("destination", "rule", "mode", "hour")        # what group_by may name
DIMS = {"destination": "dest", "rule": "rule", "mode": "mode"}
TOTALS = "totals"
HOUR_FORMAT = "%Y%m%d%H"
_ALL = ("all", "*")
_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)


class WindowError(ValueError):
    """A window or time zone the analytics cannot read; `field` names the input at fault."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """IANA zone names (tzdata), read once: only these reach ZoneInfo (no file paths)."""
    return frozenset(available_timezones())


@dataclass(frozen=True)
class Window:
    """The UTC hours [first, last] whose buckets overlap [since, until), and the zone for hour of day."""

    since: datetime
    until: datetime
    tz: str = "UTC"

    @classmethod
    def make(cls, since: datetime | None = None, until: datetime | None = None, tz: str | None = None, *,
             now: datetime | None = None) -> "Window":
        """Defaults: until now, since 7 days before until; refuses more than MAX_WINDOW (WindowError)."""
        tz = tz or "UTC"
        if tz != "UTC" and tz not in time_zones():
            raise WindowError("tz", f"{tz!r} is not an IANA time zone (e.g. Europe/Paris)")
        until = _utc(until or now or datetime.now(timezone.utc), "until")
        if not _EARLIEST < until <= _LATEST:
            raise WindowError("until", "must be after 2000 and before 2100")
        since = _utc(since, "since") if since else until - DEFAULT_WINDOW
        if not _EARLIEST <= since:
            raise WindowError("since", "must be after 2000")
        if since >= until:
            raise WindowError("since", "must be before until")
        if until - since > MAX_WINDOW:
            raise WindowError("since", f"the window is at most {MAX_WINDOW.days} days")
        return cls(since=since, until=until, tz=tz)

    def hours(self) -> list[datetime]:
        """Start of every UTC hour that overlaps the window, oldest first."""
        hour = self.since.replace(minute=0, second=0, microsecond=0)
        out = []
        while hour < self.until:
            out.append(hour)
            hour += timedelta(hours=1)
        return out


def _utc(value: datetime, name: str = "time") -> datetime:
    """In UTC (a naive time is taken as UTC)."""
    try:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except OverflowError:       # year 1 with a positive offset, say
        raise WindowError(name, "out of range") from None


def _merge(target: dict, source: Mapping) -> None:
    for metric, value in source.items():
        target[metric] = target.get(metric, 0) + value


class _Hour:
    """One UTC hour's hash: its all=* metrics and (unless kept inside a day) its other groups."""

    __slots__ = ("start", "everyone", "groups")

    def __init__(self, start: datetime, everyone: dict, groups: dict | None):
        self.start, self.everyone, self.groups = start, everyone, groups


class _Sums:
    """What a window adds up to, in one time zone: groups, overall, 24 local hours, the series."""

    def __init__(self):
        self.groups: dict = {}
        self.overall: dict = {}
        self.by_hour: list[dict] = [{} for _ in range(24)]
        self.points: list[dict] = []

    def add_groups(self, groups: Mapping) -> None:
        for key, metrics in groups.items():
            _merge(self.groups.setdefault(key, {}), metrics)

    def add_hour(self, hour: _Hour, zone: ZoneInfo) -> None:
        _merge(self.overall, hour.everyone)
        _merge(self.by_hour[hour.start.astimezone(zone).hour], hour.everyone)
        self.points.append(point(hour.start, hour.everyone))
        if hour.groups:
            self.add_groups(hour.groups)

    def add(self, other: "_Sums") -> None:
        self.add_groups(other.groups)
        _merge(self.overall, other.overall)
        for mine, theirs in zip(self.by_hour, other.by_hour):
            _merge(mine, theirs)
        self.points.extend(other.points)


@dataclass
class _Day:
    groups: dict            # the day's groups, merged
    hours: list             # its 24 _Hour (all=* only)


class Analytics:
    """Reads a window's hourly buckets and reports its figures (one instance per process)."""

    SETTLE = timedelta(minutes=5)     # a transition computes its hour just before its Lua runs
    CACHED_HOURS = 96                 # closed hours kept for windows' edges (a partial first day, today)
    CACHED_RANGES = 8                 # runs of days kept summed, per time zone
    FETCH_HOURS = 48                  # hashes read per round trip (a cold read of weeks takes several)
    _PARSED_LIMIT = 100_000

    def __init__(self, connection: redis.Redis, keys: Keys, *, retention_days: int = 90):
        self.redis = connection
        self.keys = keys
        self.retention = timedelta(days=retention_days)
        self.bounds: set[float] = set()   # every bin bound seen (the all-time totals have them all)
        self._parsed: dict = {}           # raw field name -> (group key, metric) | None
        self._days: dict[date, _Day] = {}
        self._ranges: OrderedDict = OrderedDict()   # (first day, last day, tz) -> _Sums
        self._hours: OrderedDict = OrderedDict()    # closed hour start -> _Hour
        self._lock = threading.Lock()

    def report(self, window: Window, group_by: Iterable[str] = GROUPS, *, now: datetime | None = None) -> dict:
        """Overall, per destination/rule/mode, per local hour of day, and an hourly series."""
        sums = self.read(window, now=now)
        with self._lock:
            ladder = sorted(self.bounds)
        wanted = set(group_by)
        out = {
            "window": {"since": iso(window.since), "until": iso(window.until), "tz": window.tz,
                       "first_hour": sums.points[0]["hour"] if sums.points else None, "hours": len(sums.points)},
            "estimates": ESTIMATE_NOTE,
            "bounds": [b for b in ladder if b != float("inf")],
            "overall": figures(sums.overall, ladder),
        }
        for name, dim in DIMS.items():
            if name in wanted:
                rows = [{"key": value, **figures(metrics, ladder)}
                        for (d, value), metrics in sums.groups.items() if d == dim]
                out[f"by_{name}"] = sorted(rows, key=lambda r: (-r["attempts"] - r["transfers"], r["key"]))
        if "hour" in wanted:
            out["by_hour_of_day"] = [{"key": str(h), **figures(sums.by_hour[h], ladder)} for h in range(24)]
        out["series"] = sums.points
        return out

    def read(self, window: Window, *, now: datetime | None = None) -> _Sums:
        """The window's sums: kept days and hours, the rest read from Redis (pipelined)."""
        now = _utc(now or datetime.now(timezone.utc))
        zone = ZoneInfo(window.tz)
        hours = window.hours()
        # Whole UTC days inside the window and closed: summed once. The hours around them one by one.
        days = sorted({h.date() for h in hours})
        whole = [d for d in days if _start(d) >= hours[0] and _start(d) + _DAY <= hours[-1] + _HOUR
                 and _start(d) + _DAY + self.SETTLE <= now]
        first, last = (whole[0], whole[-1]) if whole else (None, None)
        before = [h for h in hours if first is None or h.date() < first]
        after = [h for h in hours if first is not None and h.date() > last]
        with self._lock:
            self._expire(now)
            ranged = self._ranges.get((first, last, window.tz)) if whole else None
            if ranged is not None:
                self._ranges.move_to_end((first, last, window.tz))
            have = {d: self._days[d] for d in whole if d in self._days} if ranged is None else {}
            missing = [d for d in whole if d not in have] if ranged is None else []
            kept = {h: self._hours[h] for h in before + after if h in self._hours}
        built, fresh = self._fetch(missing, [h for h in before + after if h not in kept])
        with self._lock:
            self._days.update(built)
            have.update(built)
            if whole and ranged is None:
                ranged = _Sums()
                for d in whole:
                    ranged.add_groups(have[d].groups)
                    for hour in have[d].hours:
                        ranged.add_hour(hour, zone)
                self._ranges[(first, last, window.tz)] = ranged
                while len(self._ranges) > self.CACHED_RANGES:
                    self._ranges.popitem(last=False)
            for start, hour in fresh.items():
                kept[start] = hour
                if start + _HOUR + self.SETTLE <= now:
                    self._hours[start] = hour
            while len(self._hours) > self.CACHED_HOURS:
                self._hours.popitem(last=False)
        sums = _Sums()
        for start in before:
            sums.add_hour(kept[start], zone)
        if ranged is not None:
            sums.add(ranged)
        for start in after:
            sums.add_hour(kept[start], zone)
        return sums

    def _expire(self, now: datetime) -> None:
        """Forget what Redis has dropped (buckets live ANALYTICS_RETENTION_DAYS)."""
        oldest = now - self.retention
        for d in [d for d in self._days if _start(d) < oldest]:
            del self._days[d]
        for key in [k for k in self._ranges if _start(k[0]) < oldest]:
            del self._ranges[key]
        for start in [h for h in self._hours if h < oldest]:
            del self._hours[start]
        if len(self._parsed) > self._PARSED_LIMIT:
            self._parsed.clear()

    def _fetch(self, days: list[date], starts: list[datetime]) -> tuple[dict, dict]:
        """Whole `days` and single hours: each hour's hash (HGETALL) and the all-time totals'
        field names (HKEYS, for the bin bounds) in one pipelined round trip, or FETCH_HOURS at a
        time for a cold read of weeks, each day folded as soon as its hours are in (bounded memory)."""
        wanted = [_start(d) + i * _HOUR for d in days for i in range(24)] + starts
        built: dict[date, _Day] = {}
        hours: dict[datetime, _Hour] = {}
        pending = list(days)
        if not wanted and self.bounds:
            return built, hours      # everything was kept: nothing to read
        for i in range(0, max(len(wanted), 1), self.FETCH_HOURS):
            batch = wanted[i:i + self.FETCH_HOURS]
            pipe = self.redis.pipeline(transaction=False)
            for start in batch:
                pipe.hgetall(self.keys.analytics(start.strftime(HOUR_FORMAT)))
            if i == 0:
                pipe.hkeys(self.keys.analytics(TOTALS))
            replies = pipe.execute()
            for raw in replies[len(batch):]:
                for name in raw:
                    self._parse(name)
            for start, row in zip(batch, replies):
                hours[start] = self._hour(start, row)
            while pending and _start(pending[0]) + 23 * _HOUR in hours:
                day = pending.pop(0)
                built[day] = _fold([hours.pop(_start(day) + j * _HOUR) for j in range(24)])
        return built, hours

    def _hour(self, start: datetime, row: Mapping) -> _Hour:
        """One hour's hash, summed by group."""
        everyone, groups, parse = {}, {}, self._parse
        for raw, value in row.items():
            entry = parse(raw)
            if entry is None:
                continue
            key, metric = entry
            target = everyone if key is _ALL else groups.setdefault(key, {})
            try:
                target[metric] = target.get(metric, 0) + float(value)
            except ValueError:     # not written by our Lua (HINCRBY/HINCRBYFLOAT write numbers)
                pass
        return _Hour(start, everyone, groups)

    def _parse(self, raw):
        """(group key, metric) of a raw field name, or None; kept (names repeat every hour)."""
        try:
            return self._parsed[raw]
        except KeyError:
            pass
        entry = parse_field(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        if entry is not None:
            dim, value, metric = entry
            kind, _, arg = metric.partition(":")
            try:
                if kind.endswith("_le"):
                    self.bounds.add(parse_bound(arg))
                entry = (_ALL if dim == "all" else (dim, value)), metric
            except ValueError:
                entry = None
        self._parsed[raw] = entry
        return entry


def _fold(hours: list[_Hour]) -> _Day:
    """A day from its 24 hours: their groups merged, each hour's all=* kept (hour of day, series)."""
    merged: dict = {}
    for hour in hours:
        for key, metrics in hour.groups.items():
            _merge(merged.setdefault(key, {}), metrics)
        hour.groups = None
    return _Day(merged, hours)


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)

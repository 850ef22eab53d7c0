"""The read side on hand-written hourly hashes in the embedded Redis: bins, percentiles, groups, windows."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis

from handoff.analytics import Analytics, Window, WindowError, estimate, parse_bound, parse_field
from handoff.keys import Keys

UTC = timezone.utc
DAY = datetime(2024, 1, 15, tzinfo=UTC)            # a Monday, long closed
NOW = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(redis_server):
    """A fresh key prefix, a reader on it, and a writer of hand-written fields."""
    connection = redis.Redis.from_url(redis_server.url)
    keys = Keys(f"an-{uuid.uuid4().hex[:8]}")

    def write(hour: datetime | str, fields: dict) -> None:
        name = hour if isinstance(hour, str) else hour.strftime("%Y%m%d%H")
        for field, value in fields.items():
            (connection.hincrbyfloat if isinstance(value, float) else connection.hincrby)(keys.analytics(name), field, value)

    yield Analytics(connection, keys), write
    connection.close()


def window(start=DAY, hours=24, tz="UTC"):
    return Window.make(start, start + timedelta(hours=hours), tz, now=NOW)


def test_field_and_bound_parsing():
    assert parse_field("dest=billing|answer_le:0.5") == ("dest", "billing", "answer_le:0.5")
    assert parse_field("dest=sip:a@b.example/x|attempts") == ("dest", "sip:a@b.example/x", "attempts")
    assert parse_field("all=*|transfers") == ("all", "*", "transfers")
    # The totals' label counters are of another shape, and other dims are not ours.
    assert parse_field("transfers|warm|transfer-success|billing") is None
    assert parse_field("attempts|dest=billing|accepted") is None
    assert parse_field("team=x|attempts") is None
    assert parse_bound("+Inf") == math.inf and parse_bound("13") == 13.0 and parse_bound("0.5") == 0.5
    for bad in ("nan", "-1", "x"):
        with pytest.raises(ValueError):
            parse_bound(bad)


def test_estimate_interpolates_inside_the_bin():
    ladder = [0.5, 1, 2, 3, 5, 8]
    # 2 values in (2, 3], 2 in (3, 5]: the median rank (2) ends the first bin, p90 (3.6) is 80% into the second.
    assert estimate({3: 2, 5: 2}, 0.5, ladder) == pytest.approx(3.0)
    assert estimate({3: 2, 5: 2}, 0.9, ladder) == pytest.approx(3 + 2 * 0.8)
    # The first bin starts at 0.
    assert estimate({0.5: 4}, 0.5, ladder) == pytest.approx(0.25)
    # A bin's lower edge is the bound before it in the ladder, even when that bin is empty.
    assert estimate({8: 10}, 0.5, ladder) == pytest.approx(6.5)
    # The open top bin reports its lower bound; nothing observed is None.
    assert estimate({math.inf: 3}, 0.5, ladder + [math.inf]) == 8
    assert estimate({}, 0.5, ladder) is None


def test_percentiles_and_means_from_a_bucket(store):
    analytics, write = store
    write(DAY, {"all=*|attempts": 10, "all=*|answer_le:1": 5, "all=*|answer_le:2": 4, "all=*|answer_le:3": 1,
                "all=*|answer_n": 10, "all=*|answer_sum": 13.5,
                "all=*|accept_le:8": 4, "all=*|accept_le:13": 4, "all=*|accept_n": 8, "all=*|accept_sum": 70.0})
    overall = analytics.report(window(), now=NOW)["overall"]
    answer, accept = overall["time_to_answer"], overall["time_to_accept"]
    assert answer["n"] == 10 and answer["mean"] == 1.35
    assert answer["p50"] == pytest.approx(1.0)                 # rank 5 ends the (0.5, 1] bin
    assert answer["p90"] == pytest.approx(2.0)                 # rank 9 ends the (1, 2] bin
    # Bound 5 never written: the ladder comes from field names, so (5, 8] is read as (3, 8].
    assert accept["p50"] == pytest.approx(8.0)
    assert accept["p90"] == pytest.approx(8 + 5 * 0.8)
    assert overall["hold"] == {"n": 0, "mean": None, "p50": None, "p90": None}


def test_bounds_seen_in_the_totals_bound_the_window_bins(store):
    analytics, write = store
    write("totals", {"all=*|hold_le:5": 1, "all=*|hold_le:8": 1})
    write(DAY, {"all=*|hold_le:8": 10, "all=*|hold_n": 10, "all=*|hold_sum": 65.0})
    hold = analytics.report(window(), now=NOW)["overall"]["hold"]
    assert hold["p50"] == pytest.approx(6.5)    # (5, 8], its lower edge known from the all-time totals


def test_counts_rates_depth_and_hangups_per_group(store):
    analytics, write = store
    fields = {}
    for dim in ("all=*", "dest=billing", "rule=(none)", "mode=warm"):
        fields.update({f"{dim}|attempts": 8, f"{dim}|result:accepted": 2, f"{dim}|result:declined": 2,
                       f"{dim}|result:voicemail": 1, f"{dim}|result:no-answer": 3,
                       f"{dim}|transfers": 4, f"{dim}|outcome:transfer-success": 2,
                       f"{dim}|outcome:transfer-cancelled": 2, f"{dim}|depth:1": 2, f"{dim}|depth:3": 2,
                       f"{dim}|hold_n": 4, f"{dim}|hold_le:20": 4, f"{dim}|hold_sum": 60.0,
                       f"{dim}|hangup_on_hold": 1})
    fields.update({"dest=sales|attempts": 1, "dest=sales|result:busy": 1})
    write(DAY + timedelta(hours=3), fields)
    report = analytics.report(window(), now=NOW)
    billing = next(r for r in report["by_destination"] if r["key"] == "billing")
    for row in (report["overall"], billing, report["by_rule"][0], report["by_mode"][0]):
        assert row["attempts"] == 8 and row["transfers"] == 4
        assert row["results"]["declined"] == 2 and row["results"]["busy"] == 0
        assert row["outcomes"] == {"transfer-cancelled": 2, "transfer-success": 2}
        assert row["rates"] == {"accept": 0.25, "decline": 0.25, "voicemail": 0.125, "no_answer": 0.375,
                                "success": 0.5}
        assert row["depth"] == {"distribution": {"1": 2, "3": 2}, "mean": 2.0}
        assert row["hangup_on_hold"] == {"count": 1, "rate": 0.25}
        assert row["hold"]["mean"] == 15.0
    assert report["by_rule"][0]["key"] == "(none)" and report["by_mode"][0]["key"] == "warm"
    sales = next(r for r in report["by_destination"] if r["key"] == "sales")
    assert sales["results"]["busy"] == 1 and sales["transfers"] == 0 and sales["rates"]["success"] is None


def test_hour_of_day_in_a_time_zone_and_the_series(store):
    analytics, write = store
    write(DAY + timedelta(hours=23), {"all=*|transfers": 2, "all=*|outcome:transfer-success": 2})
    write(DAY + timedelta(hours=30), {"all=*|transfers": 1, "all=*|outcome:transfer-failed-timeout": 1,
                                      "all=*|attempts": 1, "all=*|result:no-answer": 1})
    report = analytics.report(window(hours=48, tz="Asia/Tokyo"), now=NOW)     # UTC+9, no DST
    by_hour = {int(r["key"]): r["transfers"] for r in report["by_hour_of_day"]}
    assert len(by_hour) == 24 and by_hour[8] == 2 and by_hour[15] == 1 and sum(by_hour.values()) == 3
    assert len(report["series"]) == 48 and report["window"]["hours"] == 48
    point = report["series"][23]
    assert point["hour"] == "2024-01-15T23:00:00Z" and point["transfers"] == 2
    assert point["outcomes"] == {"transfer-success": 2}
    assert report["series"][30]["results"] == {"no-answer": 1}
    # New York in July is UTC-4: the same UTC hour is 19:00 there.
    summer = datetime(2024, 7, 1, 23, tzinfo=UTC)
    write(summer, {"all=*|transfers": 1})
    report = analytics.report(Window.make(summer, summer + timedelta(hours=1), "America/New_York",
                                          now=NOW + timedelta(days=200)), group_by=["hour"], now=NOW + timedelta(days=200))
    assert [r["key"] for r in report["by_hour_of_day"] if r["transfers"]] == ["19"]
    assert "by_destination" not in report


def test_window_hours_defaults_and_limits():
    w = Window.make(datetime(2024, 1, 1, 10, 30, tzinfo=UTC), datetime(2024, 1, 1, 12, 0, 1, tzinfo=UTC))
    assert [h.hour for h in w.hours()] == [10, 11, 12]
    w = Window.make(now=datetime(2024, 1, 8, 0, 0, tzinfo=UTC))
    assert w.since == datetime(2024, 1, 1, tzinfo=UTC) and len(w.hours()) == 168
    naive = Window.make(datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert naive.since.tzinfo is not None
    for args, field in [((datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)), "since"),
                        ((datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 2, tzinfo=UTC)), "since"),
                        ((None, datetime(2200, 1, 1, tzinfo=UTC)), "until"),
                        ((datetime(1999, 1, 1, tzinfo=UTC), datetime(1999, 2, 1, tzinfo=UTC)), "until")]:
        with pytest.raises(WindowError) as caught:
            Window.make(*args)
        assert caught.value.field == field
    with pytest.raises(WindowError) as caught:
        Window.make(tz="Mars/Olympus_Mons")
    assert caught.value.field == "tz"


def test_closed_days_are_kept_and_open_hours_reread(store):
    analytics, write = store
    write(DAY + timedelta(hours=5), {"all=*|transfers": 1})
    assert analytics.report(window(), now=NOW)["overall"]["transfers"] == 1
    # A closed day is summed once per process: Redis is not read for it again.
    write(DAY + timedelta(hours=6), {"all=*|transfers": 1})
    assert analytics.report(window(), now=NOW)["overall"]["transfers"] == 1
    # An hour still open (or closed less than SETTLE ago) is read every time.
    now = DAY + timedelta(hours=7, minutes=3)
    open_window = Window.make(DAY, now, now=now)
    write(DAY + timedelta(hours=7), {"all=*|transfers": 1})
    assert analytics.report(open_window, now=now)["overall"]["transfers"] == 3
    write(DAY + timedelta(hours=7), {"all=*|transfers": 1})
    assert analytics.report(open_window, now=now)["overall"]["transfers"] == 4
    # Past the retention (when Redis drops its buckets) the kept sums are forgotten: read again.
    analytics.retention = timedelta(days=1)
    assert analytics.report(window(), now=NOW)["overall"]["transfers"] == 4


def test_fields_not_ours_are_ignored(store):
    analytics, write = store
    hour = DAY + timedelta(hours=1)
    write(hour, {"all=*|transfers": 2, "team=x|transfers": 5, "transfers|warm|transfer-success|billing": 1,
                 "all=*|answer_le:nan": 3, "garbage": 1})
    analytics.redis.hset(analytics.keys.analytics(hour.strftime("%Y%m%d%H")), "all=*|attempts", "not-a-number")
    report = analytics.report(window(), now=NOW)
    assert report["overall"]["transfers"] == 2 and report["overall"]["attempts"] == 0
    assert report["by_destination"] == [] and report["overall"]["time_to_answer"]["n"] == 0

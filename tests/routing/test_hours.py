from datetime import datetime, timezone

from handoff.routing.hours import Closure, Hours, Window, parse_clock, parse_days

from .conftest import ny

OFFICE = Hours("America/New_York", (Window(parse_days("mon-fri"), parse_clock("09:00"), parse_clock("17:00")),),
               (Closure(*[datetime(2026, 12, 25).date()] * 2, "Christmas"),))
NIGHT = Hours("America/New_York", (Window(parse_days("fri"), parse_clock("22:00"), parse_clock("02:00")),))


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_spring_forward_2026_03_08():
    # 13:30 UTC is 08:30 EST on Friday 6 March (closed) and 09:30 EDT on Monday 9 March (open)
    assert not OFFICE.check(utc(2026, 3, 6, 13, 30)).open
    check = OFFICE.check(utc(2026, 3, 9, 13, 30))
    assert check.open and "EDT" in check.local_time
    # 21:30 UTC: 16:30 EST on Friday (open), 17:30 EDT on Monday (closed)
    assert OFFICE.check(utc(2026, 3, 6, 21, 30)).open
    assert not OFFICE.check(utc(2026, 3, 9, 21, 30)).open


def test_fall_back_2026_11_01():
    # 13:30 UTC: 09:30 EDT Friday 30 Oct (open), 08:30 EST Monday 2 Nov (closed)
    assert OFFICE.check(utc(2026, 10, 30, 13, 30)).open
    check = OFFICE.check(utc(2026, 11, 2, 13, 30))
    assert not check.open and "EST" in check.local_time
    assert OFFICE.check(utc(2026, 11, 2, 14, 0)).open


def test_window_across_midnight_and_dst_night():
    assert NIGHT.check(ny(2026, 3, 6, 23, 0)).open          # Friday night
    assert NIGHT.check(ny(2026, 3, 7, 1, 30)).open          # early Saturday
    assert not NIGHT.check(ny(2026, 3, 7, 2, 0)).open
    assert not NIGHT.check(ny(2026, 3, 5, 23, 0)).open      # Thursday
    # Saturday 1 Nov 01:30 EDT ... Sunday 01:30 happens twice but Saturday morning is fine
    assert NIGHT.check(utc(2026, 10, 31, 5, 30)).open        # Sat 01:30 EDT


def test_dated_closure_beats_weekly_window():
    check = OFFICE.check(ny(2026, 12, 25, 10, 0))           # a Friday
    assert not check.open and check.kind == "closure" and "Christmas" in check.reason
    assert OFFICE.check(ny(2026, 12, 24, 10, 0)).open


def test_reasons_name_window():
    check = OFFICE.check(ny(2026, 3, 9, 10))
    assert check.kind == "window" and "mon-fri 09:00-17:00" in check.reason
    check = OFFICE.check(ny(2026, 3, 8, 10))
    assert check.kind == "outside" and "closed" in check.reason


def test_rotation_handover_is_local_time_across_dst(router):
    rot = router.config.rotations["oncall"]
    # hand-over on Monday 9 March 2026 at 09:00 EDT (13:00 UTC), the day after DST starts
    assert rot.on_call(utc(2026, 3, 9, 12, 59))[0] == "alice"
    assert rot.on_call(utc(2026, 3, 9, 13, 0))[0] == "bob"
    # and on Monday 2 Nov at 09:00 EST (14:00 UTC)
    a = rot.on_call(utc(2026, 11, 2, 13, 59))[0]
    b = rot.on_call(utc(2026, 11, 2, 14, 0))[0]
    assert a != b


def test_yaml_sexagesimal_times(write):
    from handoff.routing import load_router
    path = write("""
        timezone: UTC
        recipients:
          - name: a
            type: number
            number: "+14155550100"
            hours: {weekly: [{days: mon, from: 8:30, to: 17:00}]}
    """)
    hours = load_router(path).config.recipients["a"].hours
    assert hours.windows[0].start.hour == 8 and hours.windows[0].end.hour == 17


def test_check_instant_refuses_what_zones_cannot_represent():
    from datetime import datetime, timedelta, timezone

    import pytest

    from handoff.routing.hours import EARLIEST, LATEST, check_instant, parse_clock

    assert check_instant(EARLIEST) == EARLIEST and check_instant(LATEST) == LATEST
    assert check_instant(datetime(2026, 3, 9, 10)).tzinfo is timezone.utc        # naive = UTC
    for bad in (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), datetime(1, 6, 1),
                datetime(9999, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5)))):
        with pytest.raises(ValueError, match="out of range"):
            check_instant(bad)
    with pytest.raises(ValueError):
        parse_clock(True)          # YAML `from: yes` is not 00:01

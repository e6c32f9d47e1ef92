"""DESIGN §4 time rules, with injected instants: cron in its zone, Debian-cron DST handling,
strictly-after as instants, intervals on a fixed grid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celeryapp.schedules import (
    CronError,
    CronTimetable,
    IntervalTimetable,
    expand_cron,
    task_id,
)
from tests.timetables import fire_times

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")


def times(expr: str, tz: ZoneInfo, after: datetime, n: int) -> list[str]:
    return [t.isoformat() for t in fire_times(CronTimetable(expr, tz), after, n)]


def test_spring_forward_gap_fires_once_right_after_the_gap_new_york() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: it fires once, at 03:00.
    assert times("30 2 * * *", NY, datetime(2026, 3, 7, 12, tzinfo=NY), 3) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_spring_forward_berlin() -> None:
    assert times("30 2 * * *", BERLIN, datetime(2026, 3, 29, 0, tzinfo=BERLIN), 2) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_fall_back_fixed_time_fires_once_on_first_pass() -> None:
    assert times("30 1 * * *", NY, datetime(2026, 11, 1, 0, tzinfo=NY), 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]
    assert times("30 2 * * *", BERLIN, datetime(2026, 10, 25, 0, tzinfo=BERLIN), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_star_hour_jobs_fire_in_both_passes() -> None:
    got = times("*/20 * * * *", NY, datetime(2026, 11, 1, 0, 50, tzinfo=NY), 7)
    assert got == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:20:00-04:00",
        "2026-11-01T01:40:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:20:00-05:00",
        "2026-11-01T01:40:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_strictly_after_in_second_pass_of_repeated_hour() -> None:
    # cronsim would hand back 01:30-04:00, an instant *before* the start.
    start = datetime(2026, 11, 1, 1, 10, tzinfo=NY, fold=1)
    assert start.utcoffset() == timedelta(hours=-5)
    nxt = CronTimetable("30 1 * * *", NY).next_after(start)
    assert nxt is not None
    assert nxt.isoformat() == "2026-11-02T01:30:00-05:00"
    assert nxt.astimezone(UTC) > start.astimezone(UTC)


def test_lord_howe_half_hour_shift() -> None:
    # DST starts 2026-10-04 02:00 -> 02:30 (+10:30 -> +11:00).
    assert times("15 2 * * *", LORD_HOWE, datetime(2026, 10, 3, 12, tzinfo=LORD_HOWE), 2) == [
        "2026-10-04T02:30:00+11:00",
        "2026-10-05T02:15:00+11:00",
    ]
    # DST ends 2026-04-05 02:00 -> 01:30: 01:45 happens twice, fires once.
    got = times("45 1 * * *", LORD_HOWE, datetime(2026, 4, 4, 12, tzinfo=LORD_HOWE), 2)
    assert got == ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]


def test_kolkata_has_no_dst() -> None:
    got = times("0 9 * * *", KOLKATA, datetime(2026, 3, 7, tzinfo=KOLKATA), 3)
    assert got == [f"2026-03-{d:02d}T09:00:00+05:30" for d in (7, 8, 9)]


def test_day_fields_or_when_both_restricted() -> None:
    # 1st of the month OR any Monday (cron), not "a Monday that is the 1st" (Celery).
    got = times("0 0 1 * 1", ZoneInfo("UTC"), datetime(2026, 5, 27, tzinfo=UTC), 3)
    assert got == [
        "2026-06-01T00:00:00+00:00",
        "2026-06-08T00:00:00+00:00",
        "2026-06-15T00:00:00+00:00",
    ]


def test_sunday_is_0_and_7_and_names_work() -> None:
    utc = ZoneInfo("UTC")
    start = datetime(2026, 11, 24, tzinfo=UTC)
    assert times("0 0 * * 0", utc, start, 2) == times("0 0 * * 7", utc, start, 2)
    assert times("0 0 * * sun", utc, start, 2) == times("0 0 * * 0", utc, start, 2)
    assert times("0 0 1 jan *", utc, start, 1) == ["2027-01-01T00:00:00+00:00"]


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros(macro: str, expanded: str) -> None:
    assert expand_cron(macro) == expanded
    assert CronTimetable(macro, BERLIN).expr == expanded


def test_never_firing_and_bad_expressions() -> None:
    for expr in ("0 0 31 2 *", "61 * * * *", "@fortnightly", "* * * *"):
        with pytest.raises(CronError):
            CronTimetable(expr, BERLIN)


def test_interval_grid_does_not_drift() -> None:
    anchor = datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    t = IntervalTimetable(90, anchor, ZoneInfo("UTC"))
    late = datetime(2026, 1, 1, 0, 5, 59, tzinfo=UTC)  # a run that happened late
    assert t.next_after(late) == datetime(2026, 1, 1, 0, 6, 7, tzinfo=UTC)
    assert t.latest_at_or_before(late) == datetime(2026, 1, 1, 0, 4, 37, tzinfo=UTC)
    assert t.next_after(anchor) == anchor + timedelta(seconds=90)


def test_interval_across_dst_keeps_elapsed_time() -> None:
    anchor = datetime(2026, 3, 8, 1, 0, tzinfo=NY)
    t = IntervalTimetable(3600, anchor, NY)
    nxt = t.next_after(anchor)
    assert nxt is not None
    assert nxt.isoformat() == "2026-03-08T03:00:00-04:00"  # one hour later as an instant


def test_task_id_is_name_at_utc_due() -> None:
    due = datetime(2026, 3, 8, 3, tzinfo=NY)
    assert task_id("nightly-report", due) == "nightly-report@2026-03-08T07:00:00Z"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [
            "30 1 * * *",
            "*/20 * * * *",
            "0 2 * * 0",
            "15 */3 * * *",
            "@daily",
            "45 1 * * *",
            "0 9 1 * 1",
        ]
    ),
    st.sampled_from([NY, BERLIN, LORD_HOWE, KOLKATA]),
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
)
def test_next_after_is_strictly_later_and_sequences_increase(
    expr: str, tz: ZoneInfo, start: datetime
) -> None:
    got = fire_times(CronTimetable(expr, tz), start, 6)
    instants = [start] + [g.astimezone(UTC) for g in got]
    assert all(a < b for a, b in pairwise(instants))
    # never two fire times at the same wall-clock minute of a fixed-time job
    timetable = CronTimetable(expr, tz)
    for g in got:
        back = timetable.latest_at_or_before(g)
        assert back is not None
        assert back.astimezone(UTC) == g.astimezone(UTC)

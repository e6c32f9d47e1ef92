"""`syncd next --load`: runs per minute and per hour, by the beat's own code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from celeryapp.beatcore import upcoming
from celeryapp.dueplan import Entry, entry_from_row
from celeryapp.schedules import ScheduleType, to_utc
from syncd.load import HOURS, MINUTES, busiest, load, render_load, sparkline

T0 = datetime(2026, 3, 28, 12, 0, 30, tzinfo=UTC)  # Berlin springs forward on the 29th


def _entry(name: str, **row: Any) -> Entry:
    base: dict[str, Any] = {
        "name": name,
        "task": "celeryapp.tasks.echo",
        "created_time": T0 - timedelta(days=3),
        "schedule_changed_time": T0 - timedelta(days=3),
        "enabled": True,
        "timezone": "UTC",
    }
    if "crontab" in row:
        base["type"] = ScheduleType.CRONTAB
    else:
        base.update(type=ScheduleType.INTERVAL, interval_period="seconds")
    base.update(row)
    return entry_from_row(base, default_timezone="UTC")


def _brute_force(entries: list[Entry], after: datetime) -> tuple[list[int], list[int]]:
    """Every entry on its own, no grouping: what `load` must equal."""
    minute0 = to_utc(after).replace(second=0, microsecond=0)
    hour0 = minute0.replace(minute=0)
    until = max(minute0 + timedelta(minutes=MINUTES), hour0 + timedelta(hours=HOURS))
    minutes, hours = [0] * MINUTES, [0] * HOURS
    for entry in entries:
        for due in upcoming(entry, after, 10**7, until=until):
            m = int((to_utc(due) - minute0).total_seconds() // 60)
            h = int((to_utc(due) - hour0).total_seconds() // 3600)
            if m < MINUTES:
                minutes[m] += 1
            if h < HOURS:
                hours[h] += 1
    return minutes, hours


def test_the_midnight_herd_is_one_minute_with_every_schedule_in_it() -> None:
    herd = [_entry(f"n{i}", crontab="0 0 * * *", timezone="Europe/Berlin") for i in range(300)]
    result = load(herd, T0)
    # Midnight in Berlin is 23:00 UTC in winter time (the 28th), 22:00 in summer time.
    assert busiest(result, top=2) == [
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 300),
    ]
    assert sum(result.per_minute) == 300
    assert result.per_hour[22 - 12 + 24] == 300  # the 29th at 22:00 UTC: summer time
    assert result.schedules == 300


def test_a_cron_time_skipped_by_the_spring_gap_counts_as_the_beat_fires_it() -> None:
    # 02:30 does not exist in Berlin on the 29th: Debian cron (and the beat) fire it at 03:00.
    result = load([_entry("gap", crontab="30 2 * * *", timezone="Europe/Berlin")], T0)
    fired = [t for t, _ in busiest(result, hours=True, top=10)]
    assert datetime(2026, 3, 29, 1, 0, tzinfo=UTC) in fired  # 03:00 CEST = 01:00 UTC


def test_one_offs_count_once_and_not_at_all_after_they_ran() -> None:
    start = T0 + timedelta(hours=2)
    fresh = _entry("once", interval_every=60, one_off=True, start_time=start)
    ran = _entry("ran", interval_every=60, one_off=True, start_time=start, last_run_time=start)
    assert sum(load([fresh], T0).per_hour) == 1
    assert sum(load([ran], T0).per_hour) == 0
    assert sum(load([fresh, ran, fresh], T0).per_hour) == 2  # same grid, not one group


def test_schedules_on_one_grid_with_different_starts_are_counted_apart() -> None:
    early = _entry("early", interval_every=3600)
    late = _entry("late", interval_every=3600, start_time=T0 + timedelta(days=3))
    result = load([early, late], T0)
    assert (result.per_minute, result.per_hour) == _brute_force([early, late], T0)


expressions = st.sampled_from(["0 0 * * *", "*/15 * * * *", "30 2 * * *", "0 9 * * 1-5"])
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"])
# Few distinct values, so that entries share a grid and differ in one thing only: what the
# grouping must tell apart.
offsets = st.sampled_from([-86400, -3600, -30, 0, 0.25, 45, 5400.5, 2 * 86400]).map(
    lambda s: T0 + timedelta(seconds=s)
)


@st.composite
def entries(draw: st.DrawFn, name: str) -> Entry:
    row: dict[str, Any] = {"timezone": draw(zones), "one_off": draw(st.booleans())}
    if draw(st.booleans()):
        row["crontab"] = draw(expressions)
    else:
        row["interval_every"] = draw(st.sampled_from([60, 90, 3600, 7 * 86400]))
        row["schedule_changed_time"] = draw(offsets)
    if draw(st.booleans()):
        row["start_time"] = draw(offsets)
    if draw(st.booleans()):
        row["expire_time"] = draw(offsets)
    if draw(st.booleans()):
        row["last_run_time"] = draw(offsets)
    row["enabled"] = draw(st.booleans())
    row["jitter"] = draw(st.sampled_from([None, None, 30]))  # the offset depends on the name
    return _entry(name, **row)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=8, unique=True).flatmap(
        lambda ids: st.tuples(*(entries(f"s{i}") for i in ids))
    )
)
def test_grouping_counts_exactly_what_each_schedule_alone_would(group: tuple[Entry, ...]) -> None:
    # Duplicated timings are what grouping saves work on: count every entry twice.
    many = [*group, *group]
    result = load(many, T0)
    minutes, hours = _brute_force(many, T0)
    assert result.per_minute == minutes
    assert result.per_hour == hours


def test_rendering_names_the_busiest_minute_in_every_format() -> None:
    result = load([_entry(f"n{i}", crontab="0 0 * * *") for i in range(3)], T0)
    assert "2026-03-29T00:00Z  3" in render_load(result, "text")
    assert '"busiest_minutes": [{"start": "2026-03-29T00:00Z", "runs": 3}]' in render_load(
        result, "json"
    )
    assert "| 2026-03-29T00:00Z | 3 |" in render_load(result, "markdown")
    assert "busiest minute 2026-03-29T00:00Z with 3" in render_load(result, "github")
    assert sparkline([0, 1, 8]) == " ▁█"


def test_one_interval_at_two_phases_or_two_expiries_is_two_groups() -> None:
    on_the_hour = _entry("a", interval_every=3600, schedule_changed_time=T0)
    half_past = _entry("b", interval_every=3600, schedule_changed_time=T0 + timedelta(minutes=30))
    ends_soon = _entry("c", crontab="*/15 * * * *", expire_time=T0 + timedelta(hours=1))
    goes_on = _entry("d", crontab="*/15 * * * *")
    for pair in ([on_the_hour, half_past], [ends_soon, goes_on]):
        result = load(pair, T0)
        assert (result.per_minute, result.per_hour) == _brute_force(pair, T0)


def test_an_interval_counts_by_arithmetic_as_the_beat_fires_it() -> None:
    # A grid point at `after` itself is not "next"; start and expiry clip the grid; a
    # 10-second schedule is counted without walking its 60 480 fire times of the week.
    on_after = _entry("a", interval_every=90, schedule_changed_time=T0)
    clipped = _entry(
        "b",
        interval_every=10,
        start_time=T0 + timedelta(seconds=25.5),
        expire_time=T0 + timedelta(hours=2),
    )
    result = load([on_after, clipped], T0)
    assert (result.per_minute, result.per_hour) == _brute_force([on_after, clipped], T0)
    # a: 12:00:30 is `after` itself, then 12:02:00; b: from its start, 12:00:55.5, every 10 s
    assert result.per_minute[:3] == [1, 6, 1 + 6]


def test_jittered_schedules_count_at_their_own_fire_times() -> None:
    # Same cron, same jitter, different names: different offsets, so different minutes.
    spread = [_entry(f"tenant-{n}", crontab="0 * * * *", jitter=3000) for n in range(20)]
    result = load(spread, T0)
    assert (result.per_minute, result.per_hour) == _brute_force(spread, T0)
    assert max(result.per_minute) < 20  # not one herd at :00

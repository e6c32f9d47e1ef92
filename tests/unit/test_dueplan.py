"""What the beat fires on (re)load and after a dispatch: catchup, start/expiry, one-off,
restart baselines. Rows are plain mappings, the instant is passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from celeryapp.dueplan import (
    BadRow,
    entry_from_row,
    first_due,
    following,
    message_expiry,
    retry_due,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def row(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "job",
        "task": "t.x",
        "type": 0,
        "interval_every": 60,
        "interval_period": "seconds",
        "crontab": None,
        "enabled": True,
        "one_off": False,
        "catchup": "latest",
        "catchup_window": None,
        "overlap": "allow",
        "schedule_changed_time": T0,
        "created_time": T0,
        "last_run_time": None,
        "start_time": None,
        "expire_time": None,
        "expire_seconds": None,
        "timezone": None,
        "args": None,
        "kwargs": None,
    }
    base.update(kw)
    return base


def cron(expr: str, **kw: Any) -> dict[str, Any]:
    return row(type=1, crontab=expr, interval_every=None, interval_period=None, **kw)


def decide(r: dict[str, Any], now: datetime) -> tuple[datetime | None, datetime | None]:
    d = first_due(entry_from_row(r, default_timezone="UTC"), now)
    return d.fire_now, d.next_due


def test_fresh_interval_is_anchored_at_apply_and_fires_nothing_missed() -> None:
    assert decide(row(), T0 + timedelta(seconds=10)) == (None, T0 + timedelta(seconds=60))


def test_restart_fires_latest_missed_within_one_period() -> None:
    r = row(last_run_time=T0 + timedelta(minutes=5))
    now = T0 + timedelta(minutes=6, seconds=30)  # missed 12:06:00
    assert decide(r, now) == (T0 + timedelta(minutes=6), T0 + timedelta(minutes=7))


def test_restart_after_long_outage_skips_older_missed_runs() -> None:
    r = row(last_run_time=T0 + timedelta(minutes=5))
    now = T0 + timedelta(minutes=30, seconds=30)
    # latest missed 12:30:00 is 30 s old (< one period): fires once; 12:06..12:29 skipped
    assert decide(r, now) == (T0 + timedelta(minutes=30), T0 + timedelta(minutes=31))


def test_missed_run_older_than_window_is_skipped() -> None:
    r = cron("0 * * * *", last_run_time=T0, catchup_window=600)
    now = T0 + timedelta(hours=1, minutes=20)  # 13:00 missed 20 min ago, window 10 min
    assert decide(r, now) == (None, T0 + timedelta(hours=2))


def test_catchup_skip_fires_nothing() -> None:
    r = row(last_run_time=T0 + timedelta(minutes=5), catchup="skip")
    assert decide(r, T0 + timedelta(minutes=6, seconds=1)) == (None, T0 + timedelta(minutes=7))


def test_due_exactly_now_fires_even_with_skip() -> None:
    r = row(last_run_time=T0 + timedelta(minutes=5), catchup="skip")
    now = T0 + timedelta(minutes=6)
    assert decide(r, now)[0] == now


def retry(r: dict[str, Any], failed: datetime, now: datetime) -> tuple[Any, Any]:
    d = retry_due(entry_from_row(r, default_timezone="UTC"), failed, now)
    return d.fire_now, d.next_due


def test_failed_publish_retried_before_the_next_due_time_goes_out_as_it_was() -> None:
    failed = T0 + timedelta(minutes=5)
    assert retry(row(), failed, failed + timedelta(seconds=30)) == (
        failed,
        failed + timedelta(minutes=1),
    )


def test_broker_outage_over_several_due_times_fires_only_the_latest() -> None:
    failed = T0 + timedelta(minutes=5)
    now = T0 + timedelta(minutes=9, seconds=10)
    assert retry(row(), failed, now) == (T0 + timedelta(minutes=9), T0 + timedelta(minutes=10))


def test_broker_outage_with_catchup_skip_fires_nothing_missed() -> None:
    failed = T0 + timedelta(minutes=5)
    now = T0 + timedelta(minutes=9, seconds=10)
    assert retry(row(catchup="skip"), failed, now) == (None, T0 + timedelta(minutes=10))


def test_already_dispatched_due_time_is_never_repeated() -> None:
    r = row(last_run_time=T0 + timedelta(minutes=6))
    assert decide(r, T0 + timedelta(minutes=6, seconds=5)) == (None, T0 + timedelta(minutes=7))


def test_changed_schedule_starts_afresh() -> None:
    changed = T0 + timedelta(minutes=10, seconds=30)
    r = cron("*/5 * * * *", last_run_time=T0, schedule_changed_time=changed)
    # 12:10 lies before the change: not a missed run of the new schedule
    assert decide(r, changed + timedelta(seconds=1)) == (None, T0 + timedelta(minutes=15))


def test_cron_default_window_is_one_period_at_most_a_day() -> None:
    r = cron("0 3 * * *", last_run_time=T0 - timedelta(days=3))
    assert decide(r, datetime(2026, 6, 2, 4, tzinfo=UTC))[0] == datetime(2026, 6, 2, 3, tzinfo=UTC)
    weekly = cron("0 3 * * 1", last_run_time=T0 - timedelta(days=30))
    # last Monday 03:00 was 2026-06-01; two days later it is outside the 1-day cap
    assert decide(weekly, datetime(2026, 6, 3, 4, tzinfo=UTC))[0] is None


def test_start_time_and_expiry() -> None:
    start = T0 + timedelta(hours=1, seconds=30)
    r = row(start_time=start)
    assert decide(r, T0) == (None, start)
    ended = row(expire_time=T0 + timedelta(seconds=90))
    entry = entry_from_row(ended, default_timezone="UTC")
    assert following(entry, T0 + timedelta(seconds=60)) is None


def test_message_expiry_is_the_earlier_of_both() -> None:
    entry = entry_from_row(
        row(expire_seconds=30, expire_time=T0 + timedelta(seconds=100)), default_timezone="UTC"
    )
    assert message_expiry(entry, T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=90)
    assert message_expiry(entry, T0 + timedelta(seconds=80)) == T0 + timedelta(seconds=100)


def test_one_off_fires_once() -> None:
    fresh = row(one_off=True)
    assert decide(fresh, T0 + timedelta(seconds=5)) == (None, T0 + timedelta(seconds=60))
    missed = row(one_off=True)
    assert decide(missed, T0 + timedelta(seconds=61)) == (T0 + timedelta(seconds=60), None)
    done = row(one_off=True, last_run_time=T0 + timedelta(seconds=60))
    assert decide(done, T0 + timedelta(hours=5)) == (None, None)


def test_a_one_off_changed_at_the_instant_of_its_last_run_fires_once_more() -> None:
    """The run at the change instant belonged to the old timing (found by the beat-core
    state machine: a one-off re-timed at the due time it had just fired never fired again)."""
    changed = T0 + timedelta(seconds=60)
    retimed = row(one_off=True, last_run_time=changed, schedule_changed_time=changed)
    assert not entry_from_row(retimed, default_timezone="UTC").has_run
    assert decide(retimed, changed + timedelta(seconds=1)) == (None, T0 + timedelta(seconds=120))


def test_disabled_never_fires() -> None:
    assert decide(row(enabled=False), T0 + timedelta(hours=1)) == (None, None)


def test_timezone_of_the_row_is_used() -> None:
    r = cron("0 9 * * *", timezone="Asia/Kolkata")
    assert decide(r, T0)[1] == datetime(2026, 6, 2, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"type": 1, "crontab": "0 0 31 2 *"}, "Bad day-of-month"),
        ({"interval_every": 0}, "shorter than 1s"),
        ({"interval_every": -5}, "shorter than 1s"),
        ({"interval_period": "microseconds"}, "not a whole interval"),
        ({"timezone": "Mars/Base"}, "unknown timezone"),
        ({"args": '["double", "encoded"]'}, "args must be a JSON array"),
        ({"kwargs": [1]}, "kwargs must be a JSON object"),
        ({"type": 7}, "unknown schedule type"),
        ({"task": "os.system; rm -rf /"}, "not a dotted Python name"),
        ({"task": ""}, "not a dotted Python name"),
    ],
)
def test_bad_rows_raise_with_a_reason(bad: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRow, match=reason):
        entry_from_row(row(**bad), default_timezone="UTC")

"""`syncd import --from redbeat` against RedBeat itself, on the shared Redis.

Entries are saved with RedBeatSchedulerEntry.save() under this test's own key prefix,
imported by the real CLI, applied to a fresh database with nothing left to plan, and their
fire times compared with RedBeat's (`due_at` of the stored entry, then the schedule's own
remaining_estimate).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.importing import (
    celery_fire_times,
    held_then_accepted,
    round_trip,
    syncd,
    syncd_fire_times,
)

pytestmark = pytest.mark.integration

ZONE = "Europe/Berlin"
AFTER = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
KNOWN_DIFFERENCES = {"monthly-friday": "Celery ANDs day_of_month and day_of_week; cron ORs"}


LAST = datetime(2026, 12, 6, 23, 59, 10, tzinfo=UTC)


def save_entries(redis_url: str, key_prefix: str) -> Any:
    """One entry per case, saved by RedBeat itself; returns the Celery app they belong to."""
    from celery import Celery
    from celery.schedules import crontab, schedule
    from redbeat import RedBeatSchedulerEntry
    from redbeat.schedules import rrule

    app = Celery("import-test", set_as_current=True)
    app.conf.update(
        redbeat_redis_url=redis_url, redbeat_key_prefix=key_prefix, timezone=ZONE, enable_utc=True
    )
    last = LAST

    def save(name: str, sched: object, **options: object) -> RedBeatSchedulerEntry:
        entry = RedBeatSchedulerEntry(
            name,
            "celeryapp.tasks.echo",
            sched,
            args=[name],
            kwargs={"n": 1},
            app=app,
            last_run_at=last,
            **options,
        )
        return entry.save()

    save("heartbeat", schedule(timedelta(seconds=45)), options={"queue": "beats", "expires": 30})
    save("Reports:Daily", crontab(minute="0", hour="7", day_of_week="mon-fri"))
    save("every-6h", crontab(minute="15", hour="*/6"))
    save("monthly-friday", crontab(minute="0", hour="9", day_of_month="1-7", day_of_week="fri"))
    save("odd", schedule(timedelta(seconds=2.5)))
    save(
        "paused",
        schedule(timedelta(hours=1)),
        enabled=False,
        options={"priority": 3, "headers": {"x-team": "ops"}},
    )
    save("rule", rrule("MINUTELY", interval=10, dtstart=last))
    return app


@pytest.fixture(autouse=True)
def _restore_current_app() -> Iterator[None]:
    """RedBeat's decoder builds crontabs on the current app: this test sets its own, and
    puts the previous one back so later tests do not evaluate in Europe/Berlin."""
    from celery import current_app

    previous = current_app._get_current_object()
    yield
    previous.set_current()


def test_redbeat_round_trip(redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    from redbeat import RedBeatSchedulerEntry

    key_prefix = f"{redis_prefix}:redbeat:"
    app = save_entries(redis_url, key_prefix)
    last = LAST

    out = tmp_path / "schedules"
    secret_url = redis_url.replace("redis://", "redis://:s3cret-pw@", 1)
    args = ("import", "--from", "redbeat", redis_url, "--prefix", key_prefix, "--timezone", ZONE)
    done = held_then_accepted(args, out, "monthly-friday")
    assert "warning[import.skipped]: rule: rrule schedule cannot be carried" in done.stderr
    assert "warning[import.skipped]: odd: an interval of 2.5 s cannot be carried" in done.stderr
    assert "'Reports:Daily' is not a valid syncd name; imported as 'reports:daily'" in done.stderr
    assert "monthly-friday: Celery fired only on days matching both" in done.stderr
    assert "priority" not in done.stderr  # carried: syncd has the field
    assert "imported 5 schedules from redbeat; skipped 2" in done.stderr

    round_trip(out, f"sqlite:///{tmp_path / 'syncd.db'}")
    text = (out / "redbeat.yaml").read_text()
    assert "timezone: Europe/Berlin" in text
    assert "expire_seconds: 30" in text
    assert "priority: 3" in text
    assert "x-team: ops" in text

    differ = {}
    for name, ours_name in [
        ("heartbeat", "heartbeat"),
        ("Reports:Daily", "reports:daily"),
        ("every-6h", "every-6h"),
        ("monthly-friday", "monthly-friday"),
    ]:
        entry = RedBeatSchedulerEntry.from_key(key_prefix + name, app=app)
        entry.schedule.nowfun = lambda: last
        first_due = entry.due_at  # RedBeat's own next time, as its beat would score it
        theirs = celery_fire_times(entry.schedule, entry.last_run_at, AFTER, 8)
        if name == "heartbeat":
            assert first_due == last + timedelta(seconds=45)
        ours = syncd_fire_times(ours_name, out, AFTER, 8)
        if ours != theirs:
            differ[name] = (ours, theirs)
    assert set(differ) == set(KNOWN_DIFFERENCES), differ
    ours, theirs = differ["monthly-friday"]
    berlin = ZoneInfo(ZONE)
    assert [t.astimezone(berlin).day for t in theirs[:2]] == [1, 5]  # Jan 1, Feb 5 2027: Fridays
    # cron: day 7 (a Monday) matches day_of_month, Friday the 11th matches day_of_week
    assert [t.astimezone(berlin).day for t in ours[:2]] == [7, 11]

    # The password of the Redis URL never reaches the output, even in a failure.
    done = syncd("import", "--from", "redbeat", secret_url.replace("6379", "1"), check=3)
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "cannot read RedBeat's keys" in done.stderr


def test_no_entries_under_prefix(redis_url: str, redis_prefix: str) -> None:
    done = syncd("import", "--from", "redbeat", redis_url, "--prefix", redis_prefix, check=3)
    assert f"no RedBeat entries under the key prefix {redis_prefix!r}" in done.stderr

"""`syncd backfill`'s decisions: which due times, in what order, at what pace, and what a
lost claim or a failed send does. The ledger here is a set; tests/integration/
test_backfill_ledger.py runs the same against real databases and a real broker."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from celeryapp.dueplan import Entry, Message, entry_from_row
from syncd.backfill import Backfill, Report, backfill_message, check_range, due_times, render
from syncd.errors import ServiceUnavailable, UsageError

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def entry(**kw: Any) -> Entry:
    row: dict[str, Any] = {
        "name": "job",
        "task": "t.x",
        "type": 0,
        "interval_every": 600,
        "interval_period": "seconds",
        "crontab": None,
        "schedule_changed_time": T0,
        "created_time": T0,
        "last_run_time": T0 + timedelta(days=9),  # run state: a backfill ignores it
    }
    row.update(kw)
    return entry_from_row(row, default_timezone="UTC")


def test_due_times_are_the_timetables_in_the_closed_range_oldest_first() -> None:
    dues = due_times(entry(), T0 + timedelta(minutes=10), T0 + timedelta(minutes=40), limit=10)
    assert dues == [T0 + timedelta(minutes=m) for m in (10, 20, 30, 40)]


def test_due_times_of_a_cron_in_its_zone() -> None:
    nightly = entry(type=1, crontab="0 3 * * *", interval_every=None, timezone="Europe/Paris")
    dues = due_times(nightly, T0, T0 + timedelta(days=2), limit=10)
    assert dues == [datetime(2026, 6, 2, 1, 0, tzinfo=UTC), datetime(2026, 6, 3, 1, 0, tzinfo=UTC)]


def test_due_times_stay_within_start_time_and_expiry() -> None:
    bounded = entry(start_time=T0 + timedelta(minutes=20), expire_time=T0 + timedelta(minutes=35))
    dues = due_times(bounded, T0, T0 + timedelta(hours=1), limit=10)
    assert dues == [T0 + timedelta(minutes=20), T0 + timedelta(minutes=30)]


def test_due_times_stop_one_past_the_limit() -> None:
    assert len(due_times(entry(), T0, T0 + timedelta(days=1), limit=5)) == 6


def test_expire_seconds_counts_from_the_send_not_the_past_due_time() -> None:
    expiring = entry(expire_seconds=300, queue="reports")
    now = T0 + timedelta(days=1)
    msg = backfill_message(expiring, T0 + timedelta(minutes=10), now)
    assert msg.options == {"queue": "reports", "expires": now + timedelta(seconds=300)}
    assert msg.task_id == "job@2026-06-01T12:10:00Z"
    assert msg.headers["syncd_due"] == "2026-06-01T12:10:00Z"  # the beat's once-only applies
    assert "syncd_trigger" not in msg.headers


class Ports:
    """A ledger (a set of claims) and a broker (a list), with a clock that only moves
    when the backfill sleeps."""

    def __init__(self, held: frozenset[str] = frozenset(), fail_on: str | None = None) -> None:
        self.claims = set(held)
        self.sent: list[Message] = []
        self.recorded: list[datetime] = []
        self.released: list[datetime] = []
        self.fail_on = fail_on
        self.t = 100.0
        self.sleeps: list[float] = []

    def claim(self, _name: str, _due: datetime, tid: str) -> bool:
        if tid in self.claims:
            return False
        self.claims.add(tid)
        return True

    def send(self, msg: Message) -> None:
        if msg.task_id == self.fail_on:
            raise ConnectionError("broker went away")
        self.sent.append(msg)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def backfill(self, rate: float) -> Backfill:
        return Backfill(
            self.claim,
            self.send,
            lambda _n, due: self.recorded.append(due),
            lambda _n, due: self.released.append(due),
            lambda: T0 + timedelta(days=1),
            self.sleep,
            rate,
            monotonic=lambda: self.t,
        )


DUES = [T0 + timedelta(minutes=m) for m in (10, 20, 30)]


def test_a_due_time_already_claimed_is_skipped_and_the_rest_sent_once() -> None:
    ports = Ports(held=frozenset({"job@2026-06-01T12:20:00Z"}))
    report = ports.backfill(rate=0).run(entry(), DUES, Report("job", DUES[0], DUES[-1]))
    assert report.sent == ["job@2026-06-01T12:10:00Z", "job@2026-06-01T12:30:00Z"]
    assert report.skipped == ["job@2026-06-01T12:20:00Z"]
    assert [m.task_id for m in ports.sent] == report.sent
    assert ports.recorded == [DUES[0], DUES[2]]
    # Run again: everything is in the ledger now, nothing is sent twice.
    again = ports.backfill(rate=0).run(entry(), DUES, Report("job", DUES[0], DUES[-1]))
    assert again.sent == [] and len(again.skipped) == 3 and len(ports.sent) == 2


def test_sends_are_paced_at_the_rate() -> None:
    ports = Ports()
    ports.backfill(rate=4).run(entry(), DUES, Report("job", DUES[0], DUES[-1]))
    assert ports.sleeps == [0.25, 0.25]  # the first goes at once


def test_a_failed_send_gives_the_claim_back_and_stops() -> None:
    ports = Ports(fail_on="job@2026-06-01T12:20:00Z")
    report = Report("job", DUES[0], DUES[-1])
    with pytest.raises(ServiceUnavailable, match="1 sent before it, nothing after"):
        ports.backfill(rate=0).run(entry(), DUES, report)
    assert report.sent == ["job@2026-06-01T12:10:00Z"]
    assert ports.released == [DUES[1]] and ports.recorded == [DUES[0]]


NOW = T0 + timedelta(days=3)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (NOW - timedelta(hours=1), NOW + timedelta(seconds=1), "is in the future"),
        (NOW - timedelta(hours=1), NOW - timedelta(hours=2), "is after --to"),
        (NOW - timedelta(days=8), NOW, "older than the dispatch ledger keeps (7 days"),
    ],
)
def test_ranges_that_are_refused(start: datetime, end: datetime, says: str) -> None:
    with pytest.raises(UsageError, match=re.escape(says)):
        check_range(start, end, NOW, retention_days=7, beyond=False)


def test_beyond_retention_is_allowed_when_asked() -> None:
    check_range(NOW - timedelta(days=8), NOW, NOW, retention_days=7, beyond=True)


def test_every_format_says_what_was_sent_and_skipped() -> None:
    report = Report("job", DUES[0], DUES[-1], sent=["job@a"], skipped=["job@b"])
    assert render(report, "text").splitlines() == [
        "sent job@a",
        "already dispatched job@b",
        "job: sent 1, already dispatched 1 of the due times from 2026-06-01T12:10:00Z "
        "to 2026-06-01T12:30:00Z",
    ]
    data = json.loads(render(report, "json"))
    assert data["sent"] == ["job@a"] and data["already_dispatched"] == ["job@b"]
    assert data["dry_run"] is False
    assert "- sent `job@a`" in render(report, "markdown")
    assert render(report, "github").startswith("::notice title=syncd backfill job::job: sent 1")
    report.dry_run = True
    assert render(report, "text").startswith("would send job@a")

"""Claimed is not sent: the shell's ledger marks, republish and mid-burst lock loss, in-process.

A real DatabaseScheduler on SQLite (no Redis: the lease lock) with the embedded filesystem
broker; the clock is passed in. Messages are counted on the broker, per task id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from celeryapp import runstore
from celeryapp.app import make_app
from celeryapp.scheduler import DatabaseScheduler
from celeryapp.schedules import task_id
from celeryapp.settings import Settings
from syncd import store

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"job-{i:05d}",
            "task": "celeryapp.tasks.echo",
            "type": 0,
            "interval_every": 3600,
            "interval_period": "seconds",
            "start_time": BASE,
            "args": [i],
            "kwargs": {},
            "enabled": True,
            "one_off": False,
            "total_run_count": 0,
            "catchup": "latest",
            "overlap": "allow",
            "managed": True,
            "timezone": "UTC",
            "created_time": BASE - timedelta(hours=2),
            "schedule_changed_time": BASE - timedelta(hours=2),
            "last_run_time": BASE - timedelta(hours=1),
        }
        for i in range(count)
    ]


class Beat:
    def __init__(self, tmp_path: Path, rows: int) -> None:
        self.url = f"sqlite:///{tmp_path / 'beat.db'}"
        self.broker = tmp_path / "broker"
        store.migrate(self.url)
        self.engine = create_engine(self.url)
        with self.engine.begin() as conn:
            store._insert_rows(conn, _rows(rows))
        settings = Settings(database_url=self.url, broker_dir=str(self.broker), beat_lock_ttl=3.0)
        self.now = [BASE - timedelta(seconds=1)]
        self.app = make_app(settings)
        self.schedulers: list[DatabaseScheduler] = []

    def scheduler(self) -> DatabaseScheduler:
        now = self.now
        DatabaseScheduler.clock = staticmethod(lambda: now[0])
        scheduler = DatabaseScheduler(app=self.app, lazy=False)
        scheduler._wait_for_signal = lambda wait: wait  # type: ignore[method-assign]
        self.schedulers.append(scheduler)
        return scheduler

    def messages(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in (self.broker / "data").glob("*"):
            counts[json.loads(path.read_text())["headers"]["id"]] += 1
        return counts

    def ledger_rows(self) -> list[tuple[str, Any]]:
        with self.engine.connect() as conn:
            return [
                (r[0], r[1])
                for r in conn.execute(
                    text("SELECT schedule_name, published_time FROM syncd_dispatch_ledger")
                )
            ]

    def close(self) -> None:
        for scheduler in self.schedulers:
            scheduler.engine.dispose()
        self.app.close()
        self.engine.dispose()


@pytest.fixture
def beat(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Beat]:
    b = Beat(tmp_path, getattr(request, "param", 3))
    try:
        yield b
    finally:
        b.close()


def test_every_sent_run_is_marked_published(beat: Beat) -> None:
    scheduler = beat.scheduler()
    scheduler.tick()  # leads, loads; nothing due yet
    beat.now[0] = BASE
    scheduler.tick()
    assert beat.messages() == Counter({task_id(f"job-{i:05d}", BASE): 1 for i in range(3)})
    rows = beat.ledger_rows()
    assert len(rows) == 3 and all(published is not None for _, published in rows)


def test_a_new_leader_republishes_runs_claimed_and_never_published(beat: Beat) -> None:
    # A beat claimed 12:00 for every schedule and died before publishing any of them.
    with beat.engine.begin() as conn:
        runstore.claim(
            conn,
            [(f"job-{i:05d}", BASE, task_id(f"job-{i:05d}", BASE)) for i in range(3)],
            holder="dead-beat",
            now=BASE,
        )
    beat.now[0] = BASE + timedelta(seconds=6)  # its lease has lapsed
    scheduler = beat.scheduler()
    scheduler.tick()
    assert beat.messages() == Counter({task_id(f"job-{i:05d}", BASE): 1 for i in range(3)})
    assert all(published is not None for _, published in beat.ledger_rows())
    scheduler.tick()  # nothing more: the core's own catch-up lost its claim to the ledger
    assert sum(beat.messages().values()) == 3


def test_claims_too_old_to_run_are_not_republished(beat: Beat) -> None:
    old = BASE - timedelta(days=1) + timedelta(minutes=1)
    with beat.engine.begin() as conn:
        runstore.claim(conn, [("job-00000", old, task_id("job-00000", old))], holder="x", now=old)
    beat.now[0] = BASE - timedelta(seconds=1)
    beat.scheduler().tick()
    assert beat.messages() == Counter()


@pytest.mark.parametrize("beat", [1200], indirect=True)
def test_a_burst_that_loses_its_lock_stops_and_the_next_leader_sends_the_rest(
    beat: Beat,
) -> None:
    first = beat.scheduler()
    first.tick()
    beat.now[0] = BASE
    renewals = 0
    hold = first.lock.hold

    def lose_at_second_renewal(now: datetime) -> bool:
        nonlocal renewals
        renewals += 1
        if renewals >= 3:  # the tick's own hold, then settles: the second settle loses it
            with beat.engine.begin() as conn:
                conn.execute(text("UPDATE syncd_beat_lease SET holder = 'thief'"))
            return False
        return hold(now)

    first.lock.hold = lose_at_second_renewal  # type: ignore[method-assign]
    first.tick()
    sent_by_first = sum(beat.messages().values())
    assert 0 < sent_by_first < 1200
    assert not first.leading
    # The thief's lease lapses; a new beat leads and republishes what the first never sent.
    beat.now[0] = BASE + timedelta(seconds=10)
    with beat.engine.begin() as conn:
        conn.execute(text("UPDATE syncd_beat_lease SET expires_time = :t"), {"t": BASE})
    second = beat.scheduler()
    second.tick()
    counts = beat.messages()
    assert len(counts) == 1200
    assert set(counts.values()) == {1}, Counter(counts.values())
    assert all(published is not None for _, published in beat.ledger_rows())

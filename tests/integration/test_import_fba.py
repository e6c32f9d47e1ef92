"""`syncd import --from fba` against fba's `task_scheduler` table, on SQLite and PostgreSQL.

fba is an application, not a library to install, so its table is built here from its model
(reference/fba-task-system.md §1: the columns, JSON args holding a JSON string, type 0/1)
and rows are written as fba's API writes them. Fire times are compared with fba's cron
semantics: Celery's crontab.from_string evaluated in DATETIME_TIMEZONE (fba's
TzAwareCrontab is exactly that), and Celery's interval schedule from last_run_time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
)

from tests.integration.importing import (
    celery_fire_times,
    held_then_accepted,
    round_trip,
    syncd,
    syncd_fire_times,
)

pytestmark = pytest.mark.integration

ZONE = "Asia/Shanghai"
AFTER = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
KNOWN_DIFFERENCES = {
    "first-monday": "Celery ANDs day_of_month and day_of_week; cron ORs",
    "stop-later": "fba keeps publishing after expire_time (its W11); syncd stops",
}
EXPIRY = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def fba_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("name", String(64), unique=True, nullable=False),
        Column("task", String(256), nullable=False),
        Column("args", JSON),
        Column("kwargs", JSON),
        Column("queue", String(256)),
        Column("exchange", String(256)),
        Column("routing_key", String(256)),
        Column("start_time", DateTime(timezone=True)),
        Column("expire_time", DateTime(timezone=True)),
        Column("expire_seconds", Integer),
        Column("type", Integer, nullable=False),
        Column("interval_every", Integer),
        Column("interval_period", String(256)),
        Column("crontab", String(64), default="* * * * *"),
        Column("one_off", Boolean, nullable=False, default=False),
        Column("enabled", Boolean, nullable=False, default=True),
        Column("total_run_count", Integer, nullable=False, default=0),
        Column("last_run_time", DateTime(timezone=True)),
        Column("remark", Text),
        Column("created_time", DateTime(timezone=True), nullable=False),
        Column("updated_time", DateTime(timezone=True)),
    )


# fba's TimeZone column type converts every time to DATETIME_TIMEZONE before storing, and
# SQLite and MySQL keep only the wall time: so naive stored times are Shanghai times.
LAST = datetime(2026, 12, 6, 23, 30, 0, tzinfo=UTC).astimezone(ZoneInfo(ZONE))
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def row(name: str, **values: object) -> dict[str, object]:
    return {"name": name, "task": "celeryapp.tasks.echo", "created_time": NOW, **values}


ROWS = [
    # fba's UI sends args as a JSON string, stored inside the JSON column (its W9)
    row(
        "sync-users",
        type=0,
        interval_every=7,
        interval_period="minutes",
        last_run_time=LAST,
        args=json.dumps([1, "a"]),
        kwargs=json.dumps({"full": True}),
    ),
    row("celery.backend_cleanup", type=1, crontab="0 4 * * *", expire_seconds=43200),
    row("报表", type=1, crontab="30 8 * * 1-5", remark="每日报表", queue="reports"),
    row("first-monday", type=1, crontab="0 6 1-7 * 1"),
    row("once", type=1, crontab="0 12 * * *", one_off=True, total_run_count=1),
    row("bad-cron", type=1, crontab="0 0  * * *"),
    row("micro", type=0, interval_every=10, interval_period="microseconds"),
    row(
        "stop-later", type=1, crontab="*/10 * * * *", expire_time=EXPIRY.astimezone(ZoneInfo(ZONE))
    ),
]


def fba_fire_times(values: dict[str, object], after: datetime, n: int) -> list[datetime]:
    from celery.schedules import crontab, schedule

    zone = ZoneInfo(ZONE)
    if values["type"] == 1:
        sched = crontab.from_string(str(values["crontab"]))
        sched.tz = zone  # fba's TzAwareCrontab: now in DATETIME_TIMEZONE
        return celery_fire_times(sched, after, after, n)
    period = {str(values["interval_period"]): int(values["interval_every"])}  # type: ignore[call-overload]
    return celery_fire_times(schedule(timedelta(**period)), LAST, after, n)


def fba_rows(url: str, table: Table) -> list[dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(table.select().order_by(table.c.id)).mappings()]
    finally:
        engine.dispose()


@pytest.mark.parametrize("table_name", ["task_scheduler", "sys_task_scheduler"])
def test_fba_round_trip(db_url: str, table_name: str, tmp_path: Path) -> None:
    table = fba_table(table_name)
    engine = create_engine(db_url)
    try:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            for values in ROWS:
                conn.execute(table.insert().values(**values))
    finally:
        engine.dispose()
    out = tmp_path / "schedules"
    secret = db_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    done = held_then_accepted(("import", "--from", "fba", secret), out, "first-monday")
    assert "s3cret-pw" not in done.stdout + done.stderr
    err = done.stderr
    assert "bad-cron: crontab '0 0  * * *' is not five fields split by single spaces" in err
    assert "micro: an interval of 1e-05 s cannot be carried" in err
    assert "'报表' is not a valid syncd name; imported as 'schedule-" in err
    assert "first-monday: Celery fired only on days matching both" in err
    assert "once: a one-off that already ran: imported disabled" in err
    assert "stop-later: fba kept publishing after expire_time" in err
    assert "imported 6 schedules from fba; skipped 2" in err

    syncd_url = f"sqlite:///{tmp_path / 'target.db'}"
    round_trip(out, syncd_url)
    if table_name == "task_scheduler":
        # The cutover docs/import.md describes: syncd's table beside fba's, in fba's own
        # database; fba's rows are read, never written.
        before = fba_rows(db_url, table)
        round_trip(out, db_url)
        assert fba_rows(db_url, table) == before
    exported = json.loads(syncd("--database-url", syncd_url, "export", "--format", "json").stdout)
    by_name = {s["name"]: s for s in exported["schedules"]}
    assert by_name["sync-users"]["args"] == [1, "a"]
    assert by_name["sync-users"]["kwargs"] == {"full": True}
    assert by_name["once"]["enabled"] is False
    renamed = next(n for n in by_name if n.startswith("schedule-"))
    assert by_name[renamed]["description"] == "每日报表"
    assert by_name[renamed]["timezone"] == ZONE

    differ = {}
    for values in ROWS:
        name = renamed if values["name"] == "报表" else str(values["name"])
        if name not in by_name or not by_name[name].get("enabled", True):
            continue
        theirs = fba_fire_times(values, AFTER, 8)
        ours = syncd_fire_times(name, out, AFTER, 8)
        if ours != theirs:
            differ[name] = (ours, theirs)
    assert set(differ) == set(KNOWN_DIFFERENCES), differ
    ours, theirs = differ["stop-later"]
    assert ours == [t for t in theirs if t <= EXPIRY]
    assert ours[-1] <= EXPIRY < theirs[-1]


def test_syncd_own_table_is_refused(sqlite_url: str) -> None:
    syncd("--database-url", sqlite_url, "migrate")
    done = syncd("import", "--from", "fba", sqlite_url, check=3)
    assert "is syncd's own table, not fba's: use `syncd export`" in done.stderr
    done = syncd("import", "--from", "fba", sqlite_url, "--table", "nope", check=3)
    assert "no fba schedule table (nope)" in done.stderr


def test_unusable_source_urls() -> None:
    done = syncd("import", "--from", "fba", "not a url", check=64)
    assert "SOURCE 'not a url' is not a SQLAlchemy URL" in done.stderr
    done = syncd(
        "import", "--from", "fba", "postgresql://postgres:s3cret-pw@127.0.0.1:1/x", check=3
    )
    assert "cannot reach the database at postgresql://postgres:***@127.0.0.1:1/x" in done.stderr
    assert "s3cret-pw" not in done.stderr

"""`syncd import --from django-celery-beat` against django-celery-beat itself.

Entries are made through its models (Django configured here, against a throwaway SQLite
file and a throwaway PostgreSQL database), imported by the real CLI, applied to a fresh
syncd database with nothing left to plan, and their fire times compared with the ones
django-celery-beat's own schedule objects compute. The one known difference (Celery's AND
of the day fields) is asserted as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import create_pg_database, drop_pg_database
from tests.integration.importing import (
    celery_fire_times,
    held_then_accepted,
    round_trip,
    syncd,
    syncd_fire_times,
)

pytestmark = pytest.mark.integration

AFTER = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
# Names whose fire times are expected to differ from Celery's, and why (docs/import.md).
KNOWN_DIFFERENCES = {"first-monday": "Celery ANDs day_of_month and day_of_week; cron ORs"}


@pytest.fixture(scope="module")
def django_dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Django configured once for the module, with two databases; alias -> syncd-side URL."""
    import django
    from django.conf import settings

    sqlite_file = tmp_path_factory.mktemp("django") / "django.sqlite3"
    pg_name, pg_url = create_pg_database()
    assert not settings.configured, "Django is configured once per process, here"
    base = pg_url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "", 1)
    host = base.rsplit("@", 1)[-1]
    settings.configure(
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_file)},
            "pg": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": pg_name,
                "USER": "postgres",
                "HOST": host.split(":")[0],
                "PORT": host.split(":")[1] if ":" in host else "5432",
            },
        },
        INSTALLED_APPS=["django_celery_beat"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, database="default")
    call_command("migrate", verbosity=0, database="pg")
    # A password trust auth ignores: it must never be printed.
    secret_pg = pg_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    try:
        yield {"default": f"sqlite:///{sqlite_file}", "pg": secret_pg}
    finally:
        from django.db import connections

        connections.close_all()
        drop_pg_database(pg_name)


def make_entries(alias: str) -> dict[str, object]:
    """One PeriodicTask per case, through django-celery-beat's models; name -> task.
    Long because it is a table of cases, read best in one piece."""
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    # django-celery-beat checks name uniqueness against the default database whatever
    # `using` says, so each case starts with no tasks in either.
    for each in ("default", "pg"):
        PeriodicTask.objects.using(each).all().delete()
    objects = PeriodicTask.objects.using(alias)

    def interval(every: int, period: str) -> IntervalSchedule:
        return IntervalSchedule.objects.using(alias).create(every=every, period=period)

    def cron(**fields: object) -> CrontabSchedule:
        return CrontabSchedule.objects.using(alias).create(**fields)

    last = datetime(2026, 12, 6, 23, 58, 20, tzinfo=UTC)
    return {
        "heartbeat": objects.create(
            name="heartbeat",
            task="celeryapp.tasks.echo",
            interval=interval(90, "seconds"),
            last_run_at=last,
            args="[1, 2]",
            kwargs='{"to": "ops"}',
            queue="beats",
        ),
        "Hourly Sync": objects.create(
            name="Hourly Sync",
            task="celeryapp.tasks.echo",
            interval=interval(1, "hours"),
            last_run_at=last,
            description="renamed on import",
        ),
        "office-hours": objects.create(
            name="office-hours",
            task="celeryapp.tasks.echo",
            crontab=cron(
                minute="*/15",
                hour="9-17",
                day_of_week="mon-fri",
                timezone=ZoneInfo("Europe/Berlin"),
            ),
        ),
        "weekend-wrap": objects.create(
            name="weekend-wrap",
            task="celeryapp.tasks.echo",
            crontab=cron(
                minute="30", hour="4", day_of_week="fri-mon", timezone=ZoneInfo("America/New_York")
            ),
        ),
        "first-monday": objects.create(
            name="first-monday",
            task="celeryapp.tasks.echo",
            crontab=cron(
                minute="0", hour="6", day_of_month="1-7", day_of_week="1", timezone=ZoneInfo("UTC")
            ),
        ),
        "launch": objects.create(
            name="launch",
            task="celeryapp.tasks.echo",
            one_off=True,
            clocked=ClockedSchedule.objects.using(alias).create(
                clocked_time=datetime(2027, 1, 15, 12, 30, tzinfo=UTC)
            ),
        ),
        "sunset": objects.create(
            name="sunset",
            task="celeryapp.tasks.echo",
            solar=SolarSchedule.objects.using(alias).create(
                event="sunset", latitude=52.37, longitude=4.89
            ),
        ),
        "too-fast": objects.create(
            name="too-fast",
            task="celeryapp.tasks.echo",
            interval=interval(500, "microseconds"),
        ),
        "paused": objects.create(
            name="paused",
            task="celeryapp.tasks.echo",
            enabled=False,
            priority=5,
            headers='{"x-team": "ops", "task": "spoof"}',
            interval=interval(1, "days"),
            last_run_at=last,
            expires=datetime(2027, 6, 1, tzinfo=UTC),
        ),
    }


@pytest.mark.parametrize("alias", ["default", "pg"])
def test_django_celery_beat_round_trip(
    alias: str, django_dbs: dict[str, str], tmp_path: Path
) -> None:
    tasks = make_entries(alias)
    out = tmp_path / "schedules"
    args = ("import", "--from", "django-celery-beat", django_dbs[alias])
    done = held_then_accepted(args, out, "first-monday")
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "warning[import.skipped]: sunset: solar schedule (sunset at 52.37, 4.89)" in done.stderr
    assert "warning[import.skipped]: too-fast: an interval of 0.0005 s" in done.stderr
    assert "'Hourly Sync' is not a valid syncd name; imported as 'hourly-sync'" in done.stderr
    assert "first-monday: Celery fired only on days matching both" in done.stderr
    assert "priority" not in done.stderr  # carried: syncd has the field
    assert "paused: header 'task' is not carried: Celery or syncd sets it" in done.stderr
    assert "imported 7 schedules from django-celery-beat; skipped 2" in done.stderr

    round_trip(out, f"sqlite:///{tmp_path / 'syncd.db'}")

    rows = json.loads(
        syncd(
            "--database-url", f"sqlite:///{tmp_path / 'syncd.db'}", "export", "--format", "json"
        ).stdout
    )["schedules"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["heartbeat"]["args"] == [1, 2]
    assert by_name["heartbeat"]["kwargs"] == {"to": "ops"}
    assert by_name["heartbeat"]["queue"] == "beats"
    assert by_name["paused"]["enabled"] is False
    assert by_name["paused"]["expires"] == "2027-06-01T00:00:00Z"
    assert by_name["paused"]["priority"] == 5
    assert by_name["paused"]["headers"] == {"x-team": "ops"}
    assert by_name["launch"]["one_off"] is True

    differ = {}
    for source_name, task in tasks.items():
        name = {"Hourly Sync": "hourly-sync"}.get(source_name, source_name)
        if name not in by_name or not task.enabled:
            continue
        last = task.last_run_at or task.date_changed
        if task.clocked_id:  # a one-off: fires once, at the clocked time
            theirs = [task.clocked.clocked_time]
            ours = syncd_fire_times(name, out, AFTER, 1)
        else:
            theirs = celery_fire_times(task.schedule, last, AFTER, 8)
            ours = syncd_fire_times(name, out, AFTER, 8)
        if ours != theirs:
            differ[name] = (ours, theirs)
    assert set(differ) == set(KNOWN_DIFFERENCES), differ
    ours, theirs = differ["first-monday"]
    # 2026-12-07 is a Monday in days 1-7: both fire. Then Celery waits for the next such
    # Monday; cron fires on every Monday and on every day 1-7.
    assert ours[0] == theirs[0] == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert theirs[1] == datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
    assert ours[1] == datetime(2026, 12, 14, 6, 0, tzinfo=UTC)


def test_not_a_django_database(tmp_path: Path, sqlite_url: str) -> None:
    syncd("--database-url", sqlite_url, "migrate")
    done = syncd("import", "--from", "django-celery-beat", sqlite_url, check=3)
    assert "no django_celery_beat_periodictask table" in done.stderr
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    done = syncd("import", "--from", "django-celery-beat", missing, check=3)
    assert "does not exist" in done.stderr
    assert not (tmp_path / "nope.db").exists()

"""The importers' pure logic: names, Celery crontab fields, each source's mapping, the YAML.

No service: each converter takes the records its reader would hand it. The end-to-end
checks against the real tools are in tests/integration/test_import_*.py.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from celeryapp.schedules import CronTimetable
from syncd.importers import celerycron, crontab, djangobeat, fba, redbeat, writer
from syncd.importers.entries import DIFFERENCE, RENAMED, SKIPPED, Imported
from syncd.importers.names import assign_names, sanitize
from syncd.loader import SourceFile
from syncd.spec import NAME_RE
from syncd.validate import validate_file

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def notes(imported: Imported, kind: str) -> dict[str, str]:
    return {n.origin: n.message for n in imported.notes if n.kind == kind}


def reloads(imported: Imported) -> list[str]:
    """The written document through syncd's own validator: the names it accepts."""
    data = writer.document(imported).encode()
    result = validate_file(SourceFile("x.yaml", data, hashlib.sha256(data).hexdigest()))
    assert result.diagnostics == []
    return [s.name for s in result.schedules]


# --- names -------------------------------------------------------------------------------


@given(st.text(max_size=100))
def test_sanitize_always_gives_a_valid_name(raw: str) -> None:
    assert NAME_RE.match(sanitize(raw))


@given(st.lists(st.text(max_size=70), max_size=12))
def test_assigned_names_are_valid_unique_and_keep_valid_ones(wanted: list[str]) -> None:
    names, messages = assign_names(wanted, [f"#{i}" for i in range(len(wanted))])
    assert len(set(names)) == len(names) == len(wanted)
    assert all(NAME_RE.match(n) for n in names)
    for raw, name, message in zip(wanted, names, messages, strict=True):
        assert (message is None) == (raw == name)
    valid = [w for w in wanted if NAME_RE.match(w)]
    if len(set(valid)) == len(valid):  # a valid, unique source name is never changed
        assert all(n == w for w, n in zip(wanted, names, strict=True) if NAME_RE.match(w))


def test_collision_names_the_other_entry() -> None:
    names, messages = assign_names(["Nightly Report", "nightly-report"], ["a", "b"])
    assert names == ["nightly-report-2", "nightly-report"]
    assert messages[0] == (
        "'Nightly Report' became 'nightly-report', already taken by b; "
        "imported as 'nightly-report-2'"
    )
    assert messages[1] is None


def test_a_name_with_nothing_ascii_gets_a_stable_hash() -> None:
    assert sanitize("每日报告") == sanitize("每日报告")
    assert sanitize("每日报告").startswith("schedule-")
    assert sanitize("每日报告") != sanitize("每周报告")


# --- Celery's crontab fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "cron"),
    [
        ({"minute": "*/15", "hour": "9-17", "day_of_week": "mon-fri"}, "*/15 9-17 * * 1-5"),
        ({"minute": "0", "hour": "4", "day_of_week": "fri-mon"}, "0 4 * * 0,1,5,6"),
        ({"minute": "0,30", "hour": "*", "month_of_year": "*/3"}, "0,30 * * */3 *"),
        ({"minute": "5", "hour": "0-23", "day_of_week": "0-6"}, "5 * * * *"),
        ({"minute": "1,2,3,10", "hour": "*/2"}, "1-3,10 */2 * * *"),
        ({"minute": "0", "hour": "0", "day_of_week": "sun"}, "0 0 * * 0"),
    ],
)
def test_celery_fields_to_cron(fields: dict[str, str], cron: str) -> None:
    assert celerycron.convert(fields) == (cron, [])


def test_both_day_fields_restricted_is_reported() -> None:
    cron, found = celerycron.convert(
        {"minute": "0", "hour": "0", "day_of_month": "1", "day_of_week": "mon"}
    )
    assert cron == "0 0 1 * 1"
    assert "AND" in found[0]
    assert "'1'" in found[0]
    assert "'mon'" in found[0]


def test_celery_refusal_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Celery cannot parse this crontab"):
        celerycron.convert({"minute": "61"})


@given(st.sets(st.integers(0, 59), min_size=1))
def test_cron_field_means_the_same_set(values: set[int]) -> None:
    from celery.schedules import crontab_parser

    text = celerycron.cron_field(values, 0, 59)
    assert crontab_parser(60).parse(text) == values


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.integers(0, 59), min_size=1, max_size=4),
    st.sets(st.integers(0, 23), min_size=1, max_size=4),
    st.one_of(st.none(), st.sets(st.integers(1, 28), min_size=1, max_size=3)),
    st.one_of(st.none(), st.sets(st.integers(0, 6), min_size=1, max_size=3)),
)
def test_fires_when_celery_fires(
    minutes: set[int], hours: set[int], days: set[int] | None, weekdays: set[int] | None
) -> None:
    """One day field restricted at most: the imported cron fires exactly when Celery does."""
    from celery.schedules import crontab as celery_crontab

    if days is not None and weekdays is not None:
        weekdays = None
    fields = {
        "minute": ",".join(map(str, sorted(minutes))),
        "hour": ",".join(map(str, sorted(hours))),
        "day_of_month": ",".join(map(str, sorted(days))) if days else "*",
        "day_of_week": ",".join(map(str, sorted(weekdays))) if weekdays else "*",
        "month_of_year": "*",
    }
    cron, found = celerycron.convert(fields)
    assert found == []
    theirs = celery_crontab(**fields)
    theirs.tz = ZoneInfo("UTC")  # else the current app's zone, whichever test set one
    ours = CronTimetable(cron, ZoneInfo("UTC"))
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    for _ in range(5):
        theirs.nowfun = lambda at=at: at
        expected = at + theirs.remaining_estimate(at)
        got = ours.next_after(at)
        assert got == expected
        at = expected


# --- django-celery-beat ------------------------------------------------------------------


def task(name: str, **values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": name,
        "task": "t.a",
        "args": "[]",
        "kwargs": "{}",
        "enabled": True,
        "headers": "{}",
        "date_changed": NOW,
    }
    return {**base, **values}


def test_django_mapping() -> None:
    # One row per mapping rule and the whole expected result: long, and read in one piece.
    last = datetime(2026, 12, 1, 10, 0, 5, 123456)  # naive: Django's SQLite keeps UTC
    rows = [
        task(
            "beat",
            interval={"every": 90, "period": "seconds"},
            last_run_at=last,
            args='[1, "x"]',
            kwargs='{"a": 1}',
            queue="q",
            exchange="",
            expire_seconds=30,
        ),
        task(
            "cron",
            crontab={
                "minute": "0",
                "hour": "7",
                "day_of_week": "*",
                "day_of_month": "*",
                "month_of_year": "*",
                "timezone": "Europe/Berlin",
            },
            start_time=datetime(2027, 1, 1, tzinfo=UTC),
            description="Morning",
        ),
        task("gone", clocked={"clocked_time": NOW - timedelta(days=1)}, one_off=True),
        task("later", clocked={"clocked_time": NOW + timedelta(days=1)}),
        task("sun", solar={"event": "sunrise", "latitude": 1.5, "longitude": 2}),
        task("none"),
        task("broken", interval={"every": 1, "period": "hours"}, args="{not json"),
    ]
    imported = djangobeat.convert(rows, now=NOW)
    by_name = {s["name"]: s for s in imported.schedules}
    assert by_name["beat"] == {
        "name": "beat",
        "task": "t.a",
        "every": "1m30s",
        "start_time": "2026-12-01T10:00:05Z",
        "args": [1, "x"],
        "kwargs": {"a": 1},
        "queue": "q",
        "expire_seconds": 30,
    }
    assert by_name["cron"]["cron"] == "0 7 * * *"
    assert by_name["cron"]["timezone"] == "Europe/Berlin"
    assert by_name["cron"]["description"] == "Morning"
    assert by_name["gone"]["enabled"] is False
    assert by_name["later"] == {
        "name": "later",
        "task": "t.a",
        "every": "1d",
        "start_time": "2026-12-03T12:00:00Z",
        "one_off": True,
    }
    skipped = notes(imported, SKIPPED)
    assert set(skipped) == {"sun", "none", "broken"}
    assert "solar schedule (sunrise at 1.5, 2)" in skipped["sun"]
    assert "args is not JSON" in skipped["broken"]
    differences = notes(imported, DIFFERENCE)
    assert "Django's beat would fire it at once" in differences["gone"]
    assert "fires a never-run crontab task at start_time itself" in differences["cron"]
    assert "imported as one_off although the row is not" in differences["later"]
    assert sorted(reloads(imported)) == sorted(by_name)


# --- RedBeat -----------------------------------------------------------------------------


def tagged_time(**parts: object) -> dict[str, object]:
    return {"__type__": "datetime", "second": 0, "microsecond": 0, **parts}


def test_redbeat_mapping() -> None:
    # One entry per mapping rule and the whole expected result: long, read in one piece.
    last = tagged_time(year=2026, month=12, day=1, hour=11, minute=0, timezone="Europe/Berlin")
    entries = [
        (
            "redbeat:a",
            {
                "name": "a",
                "task": "t.a",
                "args": [1],
                "kwargs": {},
                "schedule": {"__type__": "interval", "every": 60.0, "relative": False},
                "options": {"queue": "q", "expires": 12.5, "priority": 1},
                "enabled": True,
            },
            {"last_run_at": last},
        ),
        (
            "redbeat:b",
            {
                "name": "b",
                "task": "t.b",
                "args": [],
                "kwargs": {},
                "options": {},
                "schedule": {
                    "__type__": "crontab",
                    "minute": "*/5",
                    "hour": "*",
                    "day_of_week": "*",
                    "day_of_month": "*",
                    "month_of_year": "*",
                },
                "enabled": False,
            },
            {},
        ),
        ("redbeat:c", {"name": "c", "task": "t.c", "schedule": {"__type__": "rrule"}}, {}),
        (
            "redbeat:d",
            {
                "name": "d",
                "task": "t.d",
                "schedule": {"__type__": "interval", "every": 5, "relative": True},
            },
            {},
        ),
    ]
    imported = redbeat.convert(entries, timezone_name="Asia/Tokyo")
    assert imported.defaults == {"timezone": "Asia/Tokyo"}
    a, b, d = imported.schedules
    assert a == {
        "name": "a",
        "task": "t.a",
        "every": "1m",
        "start_time": "2026-12-01T10:00:00Z",
        "args": [1],
        "queue": "q",
        "priority": 1,
        "expire_seconds": 12,
    }
    assert b == {"name": "b", "task": "t.b", "cron": "*/5 * * * *", "enabled": False}
    assert d["every"] == "5s"
    differences = [n.message for n in imported.notes if n.kind == DIFFERENCE]
    assert not any("priority" in m for m in differences)
    assert "expires 12.5 s rounded to 12 s" in differences
    assert "relative=True (rounding to the period) is not carried" in differences
    assert "rrule schedule cannot be carried" in notes(imported, SKIPPED)["c"]
    assert reloads(imported) == ["a", "b", "d"]


# --- fba -----------------------------------------------------------------------------------


def test_fba_mapping() -> None:
    rows = [
        {
            "name": "cleanup",
            "task": "t.a",
            "type": 1,
            "crontab": "0 4 * * *",
            "expire_seconds": 43200,
            "enabled": True,
            "args": None,
            "kwargs": None,
        },
        {
            "name": "sync",
            "task": "t.b",
            "type": 0,
            "interval_every": 2,
            "interval_period": "hours",
            "last_run_time": datetime(2026, 12, 1, 8, 0),
            "args": '["a"]',
            "kwargs": '"{\\"k\\": 1}"',
            "enabled": True,
        },
        {"name": "odd", "task": "t.c", "type": 2},
        {"name": "dow7", "task": "t.c", "type": 1, "crontab": "0 0 * * 7"},
    ]
    imported = fba.convert(rows, timezone_name="Asia/Shanghai")
    cleanup, sync = imported.schedules
    assert cleanup == {
        "name": "cleanup",
        "task": "t.a",
        "cron": "0 4 * * *",
        "expire_seconds": 43200,
    }
    # naive times are fba's DATETIME_TIMEZONE wall times; the JSON string is decoded twice
    assert sync == {
        "name": "sync",
        "task": "t.b",
        "every": "2h",
        "start_time": "2026-12-01T08:00:00+08:00",
        "args": ["a"],
        "kwargs": {"k": 1},
    }
    skipped = notes(imported, SKIPPED)
    assert "neither 0 (interval) nor 1 (crontab)" in skipped["odd"]
    assert "Celery cannot parse this crontab: Invalid end range: 7 > 6" in skipped["dow7"]


# --- crontab files -------------------------------------------------------------------------

CRONTAB = """\
# backups
SHELL=/bin/sh
MAILTO="ops@example.com"
*/5 * * * *  /usr/bin/poll --quiet > /dev/null 2>&1
0 2 1 * mon  /opt/monthly.sh
CRON_TZ=America/New_York
@daily /opt/rotate
@reboot /opt/start
@every 5m /opt/x
0 0 31 2 * /opt/never
0 3 * * *  echo 100% done
not a line
"""


def test_crontab_mapping() -> None:
    imported = crontab.convert(
        CRONTAB, task="jobs.run_command", timezone_name="UTC", path="crontab", prefix="cron-"
    )
    assert imported.schedules == [
        {
            "name": "cron-poll-quiet",
            "task": "jobs.run_command",
            "cron": "*/5 * * * *",
            "args": ["/usr/bin/poll --quiet > /dev/null 2>&1"],
        },
        {
            "name": "cron-monthly-sh",
            "task": "jobs.run_command",
            "cron": "0 2 1 * mon",
            "args": ["/opt/monthly.sh"],
        },
        {
            "name": "cron-rotate",
            "task": "jobs.run_command",
            "cron": "@daily",
            "args": ["/opt/rotate"],
            "timezone": "America/New_York",
        },
        {
            "name": "cron-echo-100-done",
            "task": "jobs.run_command",
            "cron": "0 3 * * *",
            "args": ["echo 100% done"],
            "timezone": "America/New_York",
        },
    ]
    skipped = notes(imported, SKIPPED)
    assert set(skipped) == {"crontab:8", "crontab:9", "crontab:10", "crontab:12"}
    assert "@reboot" in skipped["crontab:8"]
    assert "can never fire" in skipped["crontab:10"]
    differences = notes(imported, DIFFERENCE)
    assert differences["crontab"].endswith("MAILTO, SHELL")
    assert "ops@example.com" not in str(imported.notes)  # values may be secrets
    assert "cron turns it into a newline" in differences["crontab:11"]
    assert [n.origin for n in imported.notes] == [
        "crontab:8",
        "crontab:9",
        "crontab:10",
        "crontab:11",
        "crontab:12",
        "crontab",
    ]


# --- the YAML --------------------------------------------------------------------------------


def test_document_carries_notes_as_comments_and_reloads() -> None:
    imported = djangobeat.convert(
        [
            task(
                "no",
                crontab={
                    "minute": "0",
                    "hour": "0",
                    "day_of_month": "1",
                    "day_of_week": "1",
                    "month_of_year": "*",
                },
                description="12:30\nline two",
            )
        ],
        now=NOW,
    )
    text = writer.document(imported)
    assert "  # NOTE: Celery fired only on days matching both" in text
    assert "name: 'no'" in text  # a YAML 1.1 boolean spelled as a name stays a string
    assert yaml.safe_load(text)["schedules"][0]["description"] == "12:30\nline two"
    assert reloads(imported) == ["no"]


def test_empty_import_is_a_valid_file() -> None:
    imported = crontab.convert("# nothing\n", task="t.a", timezone_name="UTC", path="c")
    assert "schedules: []" in writer.document(imported)
    assert reloads(imported) == []
    assert writer.report_lines(imported) == ["imported 0 schedules from crontab"]


def test_renamed_note() -> None:
    imported = fba.convert(
        [{"name": "Daily Report", "task": "t.a", "type": 1, "crontab": "0 1 * * *"}],
        timezone_name="UTC",
    )
    assert notes(imported, RENAMED) == {
        "Daily Report": "'Daily Report' is not a valid syncd name; imported as 'daily-report'"
    }


# --- where Celery's crontab and cron part ways, besides the day fields ------------------------

BERLIN = ZoneInfo("Europe/Berlin")


def both_fire_times(expr: str, fields: dict[str, str], after: datetime) -> tuple[list, list]:
    from celery.schedules import crontab as celery_crontab

    from tests.celerytimes import celery_fire_times
    from tests.timetables import fire_times

    theirs = celery_crontab(**fields)
    theirs.tz = BERLIN
    celery = celery_fire_times(theirs, after, after, 3)
    ours = fire_times(CronTimetable(expr, BERLIN), after, 3)
    return [t.astimezone(BERLIN).isoformat() for t in celery], [
        t.astimezone(BERLIN).isoformat() for t in ours
    ]


def test_dst_differences_between_celery_and_cron() -> None:
    """Listed in docs/import.md. Celery shifts a time in the spring-forward gap by the gap
    (02:30 -> 03:30); cron fires right after it (03:00). In the repeated fall-back hour a
    job whose fields start with `*` follows elapsed time in cron (both passes); Celery
    skips the second pass. A fixed time in the repeated hour fires once in both."""
    spring = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    celery, ours = both_fire_times("30 2 * * *", {"minute": "30", "hour": "2"}, spring)
    assert celery[0] == "2026-03-29T03:30:00+02:00"
    assert ours[0] == "2026-03-29T03:00:00+02:00"
    assert celery[1:] == ours[1:]

    fall = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST, the first pass
    celery, ours = both_fire_times("*/30 * * * *", {"minute": "*/30"}, fall)
    assert celery == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:30:00+01:00",
    ]
    assert ours == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
    ]

    celery, ours = both_fire_times("30 2 * * *", {"minute": "30", "hour": "2"}, fall)
    assert celery == ours


def test_and_days_are_held_disabled_unless_accepted() -> None:
    rows = [
        task(
            "first-monday",
            crontab={
                "minute": "0",
                "hour": "6",
                "day_of_month": "1-7",
                "day_of_week": "mon",
                "month_of_year": "*",
            },
        )
    ]
    held = djangobeat.convert(rows, now=NOW)
    assert held.schedules[0]["enabled"] is False
    assert any("imported disabled" in m for m in held.comments["first-monday"])
    accepted = djangobeat.convert(rows, now=NOW, accept_or_days=True)
    assert "enabled" not in accepted.schedules[0]
    assert not any("imported disabled" in m for m in accepted.comments["first-monday"])
    # a crontab file means OR already: nothing to hold
    plain = crontab.convert("0 6 1-7 * mon /x\n", task="t.a", timezone_name="UTC", path="c")
    assert "enabled" not in plain.schedules[0]
    assert plain.notes == []


def test_hostile_source_text_cannot_forge_report_lines() -> None:
    rows = [{"name": "evil\nwarning[import.skipped]: fake\x1b[31m", "task": "t.a", "type": 9}]
    imported = fba.convert(rows, timezone_name="UTC")
    (line, summary) = writer.report_lines(imported)
    assert "\n" not in line
    assert "\x1b" not in line
    assert "\\n" in line
    assert "\\x1b" in line
    assert summary == "imported 0 schedules from fba; skipped 1 (listed above)"
    text, _ = writer.render(imported, "markdown", [])
    assert "\x1b" not in text


def test_redbeat_entries_that_are_not_objects_are_skipped() -> None:
    imported = redbeat.convert(
        [
            ("k:a", ["not", "a", "dict"], None),
            (
                "k:b",
                {"name": "b", "task": "t.b", "schedule": {"__type__": "interval", "every": "soon"}},
                "junk",
            ),
        ],
        timezone_name="UTC",
    )
    skipped = notes(imported, SKIPPED)
    assert skipped["k:a"] == "its definition is not a JSON object"
    assert "could not convert string to float" in skipped["b"]


def test_crontab_nul_in_a_command_is_refused_by_the_validator() -> None:
    imported = crontab.convert("* * * * * echo \x00\n", task="t.a", timezone_name="UTC", path="c")
    assert imported.schedules == []
    assert "syncd refuses it" in notes(imported, SKIPPED)["c:1"]


def test_an_option_for_another_source_is_a_usage_error() -> None:
    from syncd.errors import UsageError
    from syncd.importers.run import check_options

    check_options("crontab", {"--task": True, "--timezone": True, "--table": False})
    with pytest.raises(UsageError, match="--table applies to --from fba only"):
        check_options("redbeat", {"--table": True})
    with pytest.raises(UsageError, match="--accept-or-days applies to --from django-celery-beat"):
        check_options("crontab", {"--accept-or-days": True})


@pytest.mark.parametrize(
    ("value", "carried"),
    [(0, 0), (9, 9), (255, 255), (None, None), (256, None), (-1, None), (2.5, None), (True, None)],
)
def test_priority_is_carried_when_syncd_can_hold_it(value: object, carried: int | None) -> None:
    from syncd.importers.common import priority_field

    fields, note = priority_field(value)
    assert fields == ({} if carried is None else {"priority": carried})
    assert (note is None) == (value is None or carried is not None)
    if note:
        assert repr(value) in note and "0 to 255" in note


def test_headers_are_carried_except_those_celery_or_syncd_set() -> None:
    from syncd.importers.common import headers_field

    fields, notes = headers_field('{"x-team": "ops", "id": "x", "syncd_due": "y", "a b": 1}')
    assert fields == {"headers": {"x-team": "ops"}}
    assert [n.split(":")[0] for n in notes] == [
        "header 'id' is not carried",
        "header 'syncd_due' is not carried",
        "header 'a b' is not carried",
    ]
    assert headers_field(None) == ({}, [])
    assert headers_field({"x-list": [1]})[0] == {}

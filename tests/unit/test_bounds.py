"""What validates fits the table: limits, columns and schema agree; values at the bounds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import BigInteger, Integer, String

from celeryapp import limits
from celeryapp.models import DispatchLedger, TaskSchedule
from celeryapp.schedules import CronTimetable, IntervalTimetable
from syncd.cli import main
from syncd.loader import DEFAULT_SIZE_LIMITS, SizeLimits
from syncd.nextrun import fire_times_for
from syncd.schema import _validator, is_valid_fast, schema
from syncd.sources import SourceFile
from syncd.spec import DURATION_PATTERN, NAME_PATTERN, ecma_regex
from syncd.validate import validate_file

COLUMNS = TaskSchedule.__table__.c
PROPS = schema()["$defs"]["schedule"]["properties"]


def check(body: str, limits: SizeLimits = DEFAULT_SIZE_LIMITS) -> list[tuple[str, int, int]]:
    text = "version: 1\nschedules:\n  - name: a\n    task: t.x\n" + body
    data = text.encode()
    source = SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest())
    result = validate_file(source, limits=limits)
    return [(d.code, d.line, d.column) for d in result.diagnostics]


def test_string_columns_are_declared_with_the_limits_and_the_schema_matches() -> None:
    lengths = {
        "name": limits.NAME_LENGTH,
        "task": limits.TASK_LENGTH,
        "queue": limits.QUEUE_LENGTH,
        "exchange": limits.QUEUE_LENGTH,
        "routing_key": limits.QUEUE_LENGTH,
        "crontab": limits.CRON_LENGTH,
        "timezone": limits.TIMEZONE_LENGTH,
    }
    for column, length in lengths.items():
        assert isinstance(COLUMNS[column].type, String)
        assert COLUMNS[column].type.length == length, column
    assert DispatchLedger.__table__.c.schedule_name.type.length == limits.NAME_LENGTH
    for field in ("task", "queue", "exchange", "routing_key", "timezone"):
        assert PROPS[field]["maxLength"] == lengths[field], field
    assert PROPS["cron"]["maxLength"] == limits.CRON_LENGTH
    # The name's length is in its pattern: one leading character, then at most 63.
    assert PROPS["name"]["pattern"] == NAME_PATTERN
    assert NAME_PATTERN.endswith(f"{{0,{limits.NAME_LENGTH - 1}}}(?!\\n)$")
    assert PROPS["description"]["maxLength"] == limits.DESCRIPTION_LENGTH
    assert limits.DESCRIPTION_LENGTH * 4 <= limits.MYSQL_TEXT_BYTES  # utf8mb4, MySQL TEXT


def test_integer_columns_are_32_bit_and_bounded_by_int_max() -> None:
    for column in ("interval_every", "catchup_window", "expire_seconds", "total_run_count"):
        kind = COLUMNS[column].type
        assert isinstance(kind, Integer) and not isinstance(kind, BigInteger), column
    assert PROPS["expire_seconds"]["maximum"] == limits.INT_MAX
    assert PROPS["priority"]["minimum"] == limits.PRIORITY_MIN
    assert PROPS["priority"]["maximum"] == limits.PRIORITY_MAX
    assert PROPS["every"]["pattern"] == PROPS["catchup_window"]["pattern"] == DURATION_PATTERN


def test_latest_instant_plus_longest_duration_stays_representable() -> None:
    furthest = limits.LATEST_TIME + timedelta(seconds=limits.INT_MAX) + timedelta(days=2)
    assert furthest < datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "nightly\n"),
        ("task", "x.echo\n"),
        ("every", "1m\n"),
        ("start_time", "2026-03-01T09:00:00Z\n"),
    ],
)
def test_a_trailing_newline_fails_both_validators(field: str, value: str) -> None:
    item = {"name": "a", "task": "t.x", "every": "1m", field: value}
    doc = {"version": 1, "schedules": [item]}
    assert not is_valid_fast(doc)
    assert list(_validator().iter_errors(doc))


def test_ecma_regex_ends_at_the_end_only() -> None:
    assert ecma_regex("^a$").search("a")
    assert not ecma_regex("^a$").search("a\n")
    assert ecma_regex(r"^a\$$").search("a$")


@pytest.mark.parametrize(
    "body",
    [
        "    every: 2147483647s\n",
        "    every: 24855d3h14m7s\n    catchup_window: 24855d3h14m7s\n",
        "    every: 1s\n    start_time: 8999-12-31T23:59:59+14:00\n",
        "    every: 1h\n    start_time: 1970-01-01T00:00:00Z\n    expires: 8999-12-31T23:59:59Z\n",
        "    every: 1h\n    args: [9223372036854775807, -9223372036854775808, 1.5, -0.0, true, "
        'null, "NO", "010", 1e3x]\n',
        '    every: 1h\n    kwargs: {"on": 1, "010": true, to: ops, nested: {a: [1, 2]}}\n',
        "    every: 1h\n    args: [!!str 1e3, !!str 010, !!str yes]\n",
        "    every: 1h\n    description: " + "x" * 4000 + "\n",
        '    every: 1h\n    description: "tab\\tand\\nnewline \\u202e bidi"\n',
        "    every: 1h\n    expire_seconds: 2147483647\n    enabled: TRUE\n",
        "    cron: '0 0 29 2 *'\n    timezone: Australia/Lord_Howe\n",
    ],
)
def test_values_at_the_bounds_validate_and_have_fire_times(body: str) -> None:
    text = "version: 1\nschedules:\n  - name: a\n    task: t.x\n" + body
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    assert result.diagnostics == []
    now = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    for schedule in result.schedules:
        fire_times_for(schedule, now, 3, default_timezone="UTC", anchor=now)


@pytest.mark.parametrize(
    "plain", ["NO", "yes", "on", "Off", "1:30", "010", "0x1F", "1_000", "0b101", "190:20:30.15"]
)
def test_yaml11_spellings_in_args_and_kwargs_say_to_quote(plain: str) -> None:
    assert check(f"    every: 1h\n    args: [1, {plain}]\n") == [("yaml.implicit-type", 6, 15)]
    assert check(f"    every: 1h\n    kwargs: {{a: {plain}}}\n")[0][0] == "yaml.implicit-type"
    assert check(f'    every: 1h\n    args: [1, "{plain}"]\n') == []


@pytest.mark.parametrize("key", ["on", "no", "Yes", "010", "0x1F", "~", "1.50"])
def test_yaml11_keys_in_kwargs_say_to_quote(key: str) -> None:
    assert check(f"    every: 1h\n    kwargs: {{{key}: 1}}\n") == [("yaml.implicit-type", 6, 14)]
    assert check(f"    every: 1h\n    kwargs: {{'{key}': 1}}\n") == []


@pytest.mark.parametrize(
    ("field", "plain"),
    [("enabled", "yes"), ("one_off", "on"), ("expire_seconds", "010")],
)
def test_booleans_and_integers_take_only_what_yaml_12_reads_the_same(
    field: str, plain: str
) -> None:
    assert check(f"    every: 1h\n    {field}: {plain}\n")[0][0] == "yaml.implicit-type"


def test_size_limits_are_parameters() -> None:
    body = '    every: 1h\n    args: ["' + "x" * 200 + '"]\n'
    assert check(body) == []
    assert check(body, limits=SizeLimits(args_bytes=100)) == [("args.too-large", 6, 11)]
    aliased = "    every: 1h\n    description: &d " + "y" * 100 + "\n    kwargs: {a: *d, b: *d}\n"
    assert check(aliased, limits=SizeLimits(args_bytes=150))[0][0] == "args.too-large"
    assert check(aliased, limits=SizeLimits(document_bytes=250))[0][0] == "yaml.too-large"


def test_size_settings_reach_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text('version: 1\nschedules:\n  - {name: a, task: t.x, every: 1h, args: ["xxx"]}\n')
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", str(path)])
    assert ok.exit_code == 0, ok.output
    small = runner.invoke(main, ["validate", str(path)], env={"SYNCD_MAX_ARGS_BYTES": "4"})
    assert small.exit_code == 1 and "args.too-large" in small.output
    bad = runner.invoke(main, ["validate", str(path)], env={"SYNCD_MAX_ARGS_BYTES": "lots"})
    assert bad.exit_code == 64 and "SYNCD_MAX_ARGS_BYTES" in bad.output


def test_timetables_end_instead_of_overflowing_past_year_9999() -> None:
    anchor = datetime(8999, 12, 31, tzinfo=UTC)
    interval = IntervalTimetable(limits.INT_MAX, anchor, ZoneInfo("UTC"))
    assert interval.next_after(datetime(9999, 1, 1, tzinfo=UTC)) is None
    cron = CronTimetable("0 0 1 1 *", ZoneInfo("Pacific/Kiritimati"))
    assert cron.next_after(datetime(9999, 6, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("version: 1\nschedules:\n\t- name: a\n", "yaml.tab", ["tab", "spaces"]),
        ("version: 1\nschedules:\n  - cron: */5 * * * *\n", "yaml.unquoted-star", ["quote"]),
        (
            "version: 1\nschedules:\n  - {name: a, task: t.x, cron: '0 25 * * *'}\n",
            "cron.syntax",
            ["0-23"],
        ),
        (
            "version: 1\nschedules:\n  - {name: a, task: t.x, every: 1m, timezone: utc}\n",
            "timezone.unknown",
            ["did you mean 'UTC'"],
        ),
        (
            "version: 1\nschedules:\n  - {name: a, task: t.x, every: 1m, args: ["
            + "9" * 5000
            + "]}\n",
            "yaml.bad-value",
            ["5000 characters"],
        ),
    ],
)
def test_messages_say_what_to_do(text: str, code: str, words: list[str]) -> None:
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    first = result.diagnostics[0]
    assert first.code == code, first
    for word in words:
        assert word in first.message, first

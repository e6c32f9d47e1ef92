"""The `jitter` field: the offset function, what validates, where errors point, and what
the message carries."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celeryapp.dueplan import entry_from_row, message
from celeryapp.jitter import NO_OFFSET, offset
from celeryapp.schedules import task_id
from syncd.nextrun import beat_row, fire_times_for
from syncd.sources import SourceFile
from syncd.validate import validate_file

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
names = st.from_regex(r"[a-z0-9][a-z0-9_.:-]{0,63}", fullmatch=True)


@given(names, st.integers(1, 10 * 86400))
def test_the_offset_is_fixed_by_the_name_and_below_the_jitter(name: str, jitter: int) -> None:
    first = offset(name, jitter)
    assert first == offset(name, jitter)  # the same on every call, beat and machine
    assert NO_OFFSET <= first < timedelta(seconds=jitter)
    assert first.microseconds % 1000 == 0  # whole milliseconds


@given(names)
def test_no_jitter_is_no_offset(name: str) -> None:
    assert offset(name, None) == offset(name, 0) == NO_OFFSET


def test_offsets_spread_over_the_jitter() -> None:
    """1000 nightly schedules with `jitter: 1h` land in every tenth of the hour, none with
    more than twice its share (a hash, not a counter: roughly uniform)."""
    seconds = [offset(f"nightly-{i}", 3600).total_seconds() for i in range(1000)]
    tenths = [0] * 10
    for s in seconds:
        tenths[int(s // 360)] += 1
    assert min(tenths) > 50 and max(tenths) < 200, tenths
    assert len(set(seconds)) > 990


def check(
    body: str, timing: str = "    every: 1h\n"
) -> tuple[list[object], list[tuple[str, int, int, str]]]:
    text = "version: 1\nschedules:\n  - name: a\n    task: t.x\n" + timing + body
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    return list(result.schedules), [
        (d.code, d.line, d.column, d.message) for d in result.diagnostics
    ]


def test_jitter_validates_and_reaches_the_message_beside_the_nominal_due() -> None:
    schedules, errors = check("    jitter: 5m\n")
    assert errors == []
    (schedule,) = schedules
    assert schedule.jitter == 300  # type: ignore[attr-defined]
    entry = entry_from_row(beat_row(schedule, anchor=T0), default_timezone="UTC")  # type: ignore[arg-type]
    shift = offset("a", 300)
    assert entry.offset == shift
    due = T0 + timedelta(hours=1)
    sent = message(entry, due, task_id=task_id("a", due))
    assert sent.task_id == "a@2026-06-01T13:00:00Z"
    assert sent.headers["syncd_due"] == "2026-06-01T13:00:00Z"
    fire = due + shift
    assert sent.headers["syncd_fire"] == fire.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{fire.microsecond // 1000:03d}Z"
    )
    manual = message(entry, T0, task_id="a@manual", manual=True)
    assert "syncd_fire" not in manual.headers


def test_expire_seconds_counts_from_the_fire_time() -> None:
    schedules, _ = check("    jitter: 5m\n    expire_seconds: 60\n")
    entry = entry_from_row(beat_row(schedules[0], anchor=T0), default_timezone="UTC")  # type: ignore[arg-type]
    sent = message(entry, T0, task_id=task_id("a", T0))
    assert sent.options["expires"] == T0 + offset("a", 300) + timedelta(seconds=60)


def test_next_shows_the_fire_times() -> None:
    schedules, _ = check("    jitter: 30m\n    start_time: '2026-06-01T00:00:00Z'\n")
    _, times = fire_times_for(schedules[0], T0, 3, default_timezone="UTC", anchor=T0)  # type: ignore[arg-type]
    shift = offset("a", 1800)
    # Applied at T0: due times after it (13:00, 14:00, ...), each shown at its fire time.
    assert times == [T0 + timedelta(hours=h) + shift for h in (1, 2, 3)]
    assert all(t > T0 for t in times)


@pytest.mark.parametrize(
    ("timing", "body", "code", "line", "says"),
    [
        ("    every: 1h\n", "    jitter: 1h\n", "jitter.too-long", 6, "not shorter than every: 1h"),
        ("    every: 5m\n", "    jitter: 10m\n", "jitter.too-long", 6, "below 5m"),
        (
            "    cron: '*/15 * * * *'\n",
            "    jitter: 15m\n",
            "jitter.too-long",
            6,
            "shortest gap between two due times of cron '*/15 * * * *' (15m in UTC)",
        ),
        (
            "    cron: '0 9,10 * * *'\n",
            "    jitter: 90m\n",
            "jitter.too-long",
            6,
            "(1h in UTC)",
        ),
        ("    every: 1h\n", "    jitter: 0s\n", "duration.too-short", 6, "shorter than 1s"),
        ("    every: 1h\n", "    jitter: 5\n", "yaml.implicit-type", 6, "jitter: 5s"),
        ("    every: 1h\n", "    jitter: 5 min\n", "schema.pattern", 6, "duration like"),
    ],
)
def test_bad_jitter_is_an_error_at_its_line(
    timing: str, body: str, code: str, line: int, says: str
) -> None:
    schedules, errors = check(body, timing)
    assert schedules == []
    assert [(c, ln, col) for c, ln, col, _ in errors] == [(code, line, 13)], errors
    assert says in errors[0][3], errors[0][3]


def test_a_cron_jitter_below_its_shortest_gap_validates() -> None:
    # Daily at 02:00 in New York: the spring-forward day is 23 hours long.
    timing = "    cron: '0 2 * * *'\n    timezone: America/New_York\n"
    assert check("    jitter: 22h\n", timing)[1] == []
    errors = check("    jitter: 23h\n", timing)[1]
    assert [c for c, _, _, _ in errors] == ["jitter.too-long"], errors


def test_defaults_can_set_jitter_and_it_is_checked_at_the_default() -> None:
    text = (
        "version: 1\ndefaults:\n  jitter: 2m\nschedules:\n"
        "  - name: a\n    task: t.x\n    every: 1h\n"
        "  - name: b\n    task: t.x\n    every: 1m\n"
    )
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    assert [(d.code, d.line) for d in result.diagnostics] == [("jitter.too-long", 3)]

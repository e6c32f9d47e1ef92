"""Validation: schema + rules produce exact Schedule values or positioned errors."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.sources import SourceFile
from syncd.spec import NAME_RE, Schedule, format_duration, parse_duration, set_fields
from syncd.validate import check_across, context_hash, load, validate_file

REPO = Path(__file__).resolve().parents[2]


def src(text: str, path: str = "s.yaml") -> SourceFile:
    data = text.encode()
    return SourceFile(path, data, hashlib.sha256(data).hexdigest())


def one(text: str, **kw: object) -> tuple[list[Schedule], list[tuple[str, int, int]]]:
    result = validate_file(src(text), **kw)  # type: ignore[arg-type]
    return result.schedules, [(d.code, d.line, d.column) for d in result.diagnostics]


def test_example_schedules_are_valid_against_the_real_app() -> None:
    from syncd.validate import registry_from_app

    schedules, diagnostics = load(
        [str(REPO / "schedules")], registry=registry_from_app("celeryapp.app")
    )
    assert diagnostics == []
    assert len(schedules) >= 5
    used: set[str] = set()
    for s in schedules:
        used |= set(set_fields(s))
    every_field = {
        "cron",
        "every",
        "args",
        "kwargs",
        "queue",
        "exchange",
        "routing_key",
        "timezone",
        "start_time",
        "expires",
        "expire_seconds",
        "one_off",
        "enabled",
        "catchup",
        "catchup_window",
        "overlap",
        "description",
    }
    assert every_field <= used, every_field - used


def test_defaults_merge_and_own_value_replaces_whole() -> None:
    schedules, errors = one(
        "version: 1\ndefaults:\n  queue: q\n  kwargs: {a: 1, b: 2}\nschedules:\n"
        "  - name: x\n    task: t.x\n    every: 1m\n    kwargs: {c: 3}\n"
        "  - name: y\n    task: t.y\n    cron: '@daily'\n"
    )
    assert errors == []
    x, y = schedules
    assert x.kwargs == {"c": 3} and x.queue == "q"
    assert y.kwargs == {"a": 1, "b": 2} and y.cron == "@daily"


def test_values_are_typed() -> None:
    schedules, errors = one(
        "version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1h30m\n"
        "    start_time: '2026-03-01T09:00:00+01:00'\n    catchup_window: 15m\n"
        "    args: [1, two]\n"
    )
    assert errors == []
    (x,) = schedules
    assert x.every == 5400 and x.catchup_window == 900
    assert x.start_time == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert x.start_time.utcoffset() == timedelta(hours=1)
    assert x.args == (1, "two")
    assert x.source is not None and (x.source.line, x.source.column) == (3, 5)


def test_empty_schedules_list_is_valid() -> None:
    assert one("version: 1\nschedules: []\n") == ([], [])


def test_defaults_error_reported_once_and_blocks_schedules() -> None:
    schedules, errors = one(
        "version: 1\ndefaults:\n  timezone: Mars/Olympus\nschedules:\n"
        "  - name: x\n    task: t.x\n    cron: '0 0 * * *'\n"
    )
    assert schedules == []
    assert errors == [("timezone.unknown", 3, 13)]


def test_unknown_task_with_did_you_mean() -> None:
    result = validate_file(
        src("version: 1\nschedules:\n  - name: x\n    task: reports.send_daly\n    every: 1m\n"),
        registry={"reports.send_daily", "health.ping"},
    )
    (d,) = result.diagnostics
    assert (d.code, d.line, d.column) == ("task.unknown", 4, 11)
    assert "did you mean 'reports.send_daily'" in d.message


def test_context_hash_covers_the_registry() -> None:
    assert context_hash(None) != context_hash({"a"})
    assert context_hash({"a", "b"}) == context_hash({"b", "a"})
    assert context_hash(None, "UTC") != context_hash(None, "Europe/Berlin")


def test_duplicate_names_across_files_reported_at_both_places() -> None:
    a = validate_file(
        src("version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1m\n", "a.yaml")
    )
    b = validate_file(
        src("version: 1\nschedules:\n\n  - name: x\n    task: t.x\n    every: 1m\n", "b.yaml")
    )
    diags = check_across([a, b])
    assert [(d.path, d.line, d.code) for d in diags] == [
        ("a.yaml", 3, "name.duplicate"),
        ("b.yaml", 4, "name.duplicate"),
    ]
    assert "b.yaml:4" in diags[0].message and "a.yaml:3" in diags[1].message


def test_duplicate_against_skipped_file() -> None:
    a = validate_file(
        src("version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1m\n", "a.yaml")
    )
    diags = check_across([a], known={"x": "old.yaml:7"})
    assert len(diags) == 1 and "old.yaml:7" in diags[0].message


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1), ("90m", 5400), ("1d2h3m4s", 93784)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "1", "1h1h", "1m1h", "h", "1.5h", "-1s", " 1s"])
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


# --- round trip: generated valid documents load to exactly the values generated ---------

names = st.from_regex(NAME_RE, fullmatch=True)
tasks = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True)
texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn")),
    min_size=1,
    max_size=20,
)
# Fields that name things take no bidi controls (value.control-character).
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
identifier_texts = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs", "Co", "Cn"), exclude_characters=BIDI
    ),
    min_size=1,
    max_size=20,
)
json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | texts
crons = st.sampled_from(
    [
        "* * * * *",
        "0 2 * * *",
        "*/15 9-17 * * mon-fri",
        "@hourly",
        "0 0 1 1 *",
        "30 1 * * 0,7",
        "5 4 15 6 1",
    ]
)
zones = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-4))]
    ),
)


@st.composite
def schedule_dicts(draw: st.DrawFn) -> dict[str, object]:
    d: dict[str, object] = {"name": draw(names), "task": draw(tasks)}
    if draw(st.booleans()):
        d["cron"] = draw(crons)
    else:
        d["every"] = format_duration(draw(st.integers(1, 10 * 86400)))
    optional = {
        "args": st.lists(json_scalars, max_size=3),
        "kwargs": st.dictionaries(
            st.from_regex(r"[a-z]{1,6}", fullmatch=True), json_scalars, max_size=3
        ),
        "queue": identifier_texts,
        "exchange": identifier_texts,
        "routing_key": identifier_texts,
        "timezone": zones,
        "one_off": st.booleans(),
        "enabled": st.booleans(),
        "catchup": st.sampled_from(["latest", "skip"]),
        "catchup_window": st.integers(1, 86400).map(format_duration),
        "overlap": st.sampled_from(["allow", "skip"]),
        "description": texts,
        "expire_seconds": st.integers(1, 10**6),
        "start_time": instants.map(lambda t: t.isoformat()),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            d[key] = draw(strategy)
    return d


class _Yaml12Dumper(yaml.SafeDumper):
    """Quotes strings YAML 1.2 reads as numbers, as a careful author does: PyYAML writes
    YAML 1.1 and leaves `0E0` or `0o7` plain, which syncd rightly flags (yaml.1.1-trap)."""


_Yaml12Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)$"
    ),
    list("-+0123456789."),
)


def test_the_generator_dumper_quotes_what_yaml_1_2_reads_as_a_number() -> None:
    # hypothesis found args: ['0E0'] written plain, a document syncd refuses by design
    text = yaml.dump(["0E0", "0o7", "1.5", "x"], Dumper=_Yaml12Dumper, default_flow_style=True)
    assert text.strip() == "['0E0', '0o7', '1.5', x]"
    assert (
        validate_file(
            src(f"version: 1\nschedules:\n- name: a\n  task: t.x\n  every: 1s\n  args: {text}")
        ).diagnostics
        == []
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(schedule_dicts(), max_size=6, unique_by=lambda d: d["name"]))
def test_generated_documents_round_trip(items: list[dict[str, object]]) -> None:
    text = yaml.dump(
        {"version": 1, "schedules": items},
        Dumper=_Yaml12Dumper,
        allow_unicode=True,
        sort_keys=False,
    )
    result = validate_file(src(text))
    assert result.diagnostics == []
    assert [s.name for s in result.schedules] == [i["name"] for i in items]
    for item, schedule in zip(items, result.schedules, strict=True):
        assert schedule.task == item["task"]
        assert schedule.cron == item.get("cron")
        if "every" in item:
            assert schedule.every == parse_duration(str(item["every"]))
        assert list(schedule.args or []) == list(item.get("args") or [])
        assert dict(schedule.kwargs or {}) == dict(item.get("kwargs") or {})  # type: ignore[call-overload]
        for key in (
            "queue",
            "exchange",
            "routing_key",
            "timezone",
            "description",
            "expire_seconds",
        ):
            assert getattr(schedule, key) == item.get(key)
        assert schedule.enabled == item.get("enabled", True)
        if "start_time" in item:
            assert schedule.start_time == datetime.fromisoformat(str(item["start_time"]))

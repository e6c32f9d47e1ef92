"""The one field declaration (celeryapp.codec) and what derives from it.

Round trips for generated schedules: YAML values -> Schedule -> row -> Schedule, and the
row -> the beat's Entry, whose message options and timing are the schedule's. `syncd next`
agrees with a beat core driven tick by tick over the same row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from celeryapp import codec
from celeryapp.beatcore import BeatCore, upcoming
from celeryapp.dueplan import entry_from_row, message
from celeryapp.jitter import offset as jitter_offset
from celeryapp.schedules import task_id
from syncd import rules
from syncd.nextrun import beat_row, fire_times_for
from syncd.spec import (
    Schedule,
    Source,
    fields,
    row_hash,
    row_values,
    schedule_from_row,
    set_fields,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

names = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)
texts = st.none() | st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
instants = st.none() | st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    is_cron = draw(st.booleans())
    return Schedule(
        name=draw(names),
        task=draw(st.sampled_from(["t.a", "reports.send", "celeryapp.tasks.echo"])),
        cron=draw(st.sampled_from(["0 2 * * *", "*/7 * * * *", "15 9 * * mon-fri"]))
        if is_cron
        else None,
        every=None if is_cron else draw(st.integers(1, 10 * 86400)),
        args=draw(st.none() | st.lists(json_scalars, max_size=3).map(tuple)),
        kwargs=draw(st.none() | st.dictionaries(st.text(max_size=4), json_scalars, max_size=3)),
        queue=draw(texts),
        exchange=draw(texts),
        routing_key=draw(texts),
        priority=draw(st.none() | st.integers(0, 255)),
        headers=draw(
            st.none()
            | st.dictionaries(
                st.from_regex(r"x-[a-z]{1,6}", fullmatch=True), json_scalars, max_size=3
            )
        ),
        timezone=draw(st.sampled_from([None, "UTC", "Europe/Berlin", "America/New_York"])),
        start_time=draw(instants),
        expires=draw(instants),
        expire_seconds=draw(st.none() | st.integers(1, 86400)),
        one_off=draw(st.booleans()),
        enabled=draw(st.booleans()),
        catchup=draw(st.sampled_from(["latest", "skip"])),
        catchup_window=draw(st.none() | st.integers(1, 86400)),
        jitter=draw(st.none() | st.integers(1, 3600)),
        overlap=draw(st.sampled_from(["allow", "skip", "buffer_one"])),
        description=draw(texts),
    )


def test_schedule_attributes_are_the_declared_fields_with_their_defaults() -> None:
    declared = {f.name: f for f in codec.FIELDS}
    attrs = {f.name: f for f in dataclasses.fields(Schedule) if f.compare}
    assert list(attrs) == list(declared)
    for name, f in declared.items():
        if not f.required:
            assert attrs[name].default == f.default, name


def test_the_schema_declares_exactly_the_codec_s_fields() -> None:
    schema = json.loads((REPO / "syncd" / "schemas" / "schedule.schema.json").read_text())
    props = schema["$defs"]["schedule"]["properties"]
    assert set(props) == {f.name for f in codec.FIELDS}
    assert (REPO / "schemas" / "schedule.schema.json").read_text() == (
        REPO / "syncd" / "schemas" / "schedule.schema.json"
    ).read_text()


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_schedule_row_schedule_round_trip(schedule: Schedule) -> None:
    row = row_values(schedule)
    assert tuple(row) == codec.ROW_COLUMNS
    assert schedule_from_row(row) == schedule
    assert fields(schedule_from_row(row)) == fields(schedule)


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_yaml_values_build_the_same_schedule(schedule: Schedule) -> None:
    """What export writes (set fields) is what rules.build reads back."""
    written = {"name": schedule.name, **set_fields(schedule)}
    assert rules.build(written, Source("a.yaml", 1), "h") == schedule


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_the_beat_entry_carries_the_schedule(schedule: Schedule) -> None:
    entry = entry_from_row(beat_row(schedule, anchor=T0), default_timezone="UTC")
    assert entry.name == schedule.name and entry.task == schedule.task
    assert entry.args == (schedule.args or ()) and entry.kwargs == dict(schedule.kwargs or {})
    assert entry.every == schedule.every
    assert (entry.start_time, entry.expire_time) == (schedule.start_time, schedule.expires)
    assert (entry.one_off, entry.enabled) == (schedule.one_off, schedule.enabled)
    assert (entry.catchup, entry.overlap) == (schedule.catchup, schedule.overlap)
    declared = {f.option: getattr(schedule, f.name) for f in codec.FIELDS if f.option}
    assert entry.options == {k: v for k, v in declared.items() if v is not None}
    sent = message(entry, T0, task_id=task_id(entry.name, T0))
    assert sent.options.get("priority") == schedule.priority
    assert sent.headers["syncd_due"] == "2026-06-01T12:00:00Z"
    assert entry.offset == jitter_offset(schedule.name, schedule.jitter)
    assert ("syncd_fire" in sent.headers) == bool(entry.offset)
    assert {k: v for k, v in sent.headers.items() if not k.startswith("syncd_")} == dict(
        schedule.headers or {}
    )


def test_a_row_without_the_added_field_keeps_its_hash() -> None:
    """Rows written before `priority`, `headers` and `jitter` existed hash as they did, so
    an upgrade is no drift; setting any of them changes the hash."""
    row = row_values(Schedule(name="a", task="t.a", every=60))
    legacy = [row[c] for c in codec.ROW_COLUMNS if c not in ("priority", "headers", "jitter")]
    encoded = json.dumps(legacy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row_hash(row) == hashlib.sha256(encoded.encode()).hexdigest()
    assert row_hash({**row, "priority": 5}) != row_hash(row)
    assert row_hash({**row, "headers": {"x-team": "ops"}}) != row_hash(row)
    assert row_hash({**row, "jitter": 30}) != row_hash(row)


def test_interval_periods_of_other_writers_are_seconds_once() -> None:
    row = row_values(Schedule(name="a", task="t.a", every=60))
    assert schedule_from_row({**row, "interval_every": 2, "interval_period": "hours"}).every == 7200
    entry = entry_from_row(
        {**row, "interval_every": 2, "interval_period": "hours", "created_time": T0},
        default_timezone="UTC",
    )
    assert entry.every == 7200


def _beat_fires(row: dict[str, Any], after: datetime, count: int) -> list[datetime]:
    """Drive a beat core tick by tick from `after`, every run published at its fire time
    (the due time plus the jitter offset); the fire times strictly after `after` (a missed
    run it fires at load is not "next")."""
    core = BeatCore(grace=timedelta(seconds=1), retry_delay=timedelta(seconds=1))
    core.load([entry_from_row(row, default_timezone="UTC")], after)
    fired: list[datetime] = []
    while len(fired) < count:
        wakeup = core.next_wakeup()
        if wakeup is None:
            break
        for run in core.pop_due(wakeup):
            fire = run.entry.fire_at(run.due)
            if fire > after:
                assert fire == wakeup, f"{run.name}@{run.due} went out at {wakeup}, not {fire}"
                fired.append(fire)
            core.done(run)
    return fired


@settings(max_examples=200, deadline=None)
@given(schedules(), st.integers(-3 * 86400, 3 * 86400), st.booleans())
def test_next_prints_what_the_beat_core_dispatches(
    schedule: Schedule, offset: int, has_run: bool
) -> None:
    after = T0 + timedelta(seconds=offset)
    stored = beat_row(schedule, anchor=T0)
    if has_run:
        stored["last_run_time"] = T0 + timedelta(seconds=1)
    _, shown = fire_times_for(
        schedule, max(after, T0), 4, default_timezone="UTC", anchor=T0, stored=stored
    )
    beat = _beat_fires(stored, max(after, T0), 4)
    assert [t.astimezone(UTC) for t in shown] == beat
    if schedule.one_off:
        assert len(shown) <= 1


def test_upcoming_clamps_to_start_and_expiry() -> None:
    row = row_values(
        Schedule(
            name="a",
            task="t.a",
            cron="0 * * * *",
            start_time=T0 + timedelta(hours=5),
            expires=T0 + timedelta(hours=7),
        )
    )
    entry = entry_from_row({**row, "created_time": T0}, default_timezone="UTC")
    assert [t.hour for t in upcoming(entry, T0, 10)] == [17, 18, 19]

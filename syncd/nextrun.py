"""`syncd next`: a schedule's next fire times, computed by the beat's own code.

The schedule becomes the row `apply` would write, the row becomes the beat's `Entry`
(`dueplan.entry_from_row`), and the times are what the beat core would dispatch
(`beatcore.upcoming`): the same timetable, start/expiry clamp and one-off rule.

Run state (docs/decisions.md, "syncd next agrees with the beat"): `--from-db` reads the
row as the beat does. The YAML view uses the stored row's run state (interval anchor, last
due time, whether a one-off has fired) when the schedule is applied and its timing is
unchanged; otherwise it is as if applied at the start instant. A database that cannot be
read leaves the YAML view as if applied then: `next` of YAML needs no database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from celeryapp.beatcore import upcoming
from celeryapp.codec import RUN_STATE_COLUMNS
from celeryapp.dueplan import BadRow, Entry, entry_from_row
from syncd.errors import (
    InvalidSchedules,
    SyncdError,
    UnknownSchedule,
    UnschedulableRow,
    did_you_mean,
)
from syncd.spec import (
    TIMING_FIELDS,
    Schedule,
    comparable,
    fields,
    format_time,
    row_values,
    schedule_from_row,
)


def beat_row(
    schedule: Schedule, *, anchor: datetime, stored: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The row the beat would load for `schedule`: its columns, with the stored run state
    when its timing is unchanged since `stored` was written, else as if applied at
    `anchor`."""
    row = row_values(schedule)
    if stored is not None and _same_timing(schedule, stored):
        row.update({c: stored.get(c) for c in RUN_STATE_COLUMNS})
    else:
        row.update(created_time=anchor, schedule_changed_time=anchor, last_run_time=None)
    return row


def _same_timing(schedule: Schedule, stored: Mapping[str, Any]) -> bool:
    new, old = fields(schedule), fields(schedule_from_row(stored))
    return all(comparable(f, new[f]) == comparable(f, old[f]) for f in TIMING_FIELDS)


def fire_times_for(
    schedule: Schedule,
    after: datetime,
    count: int,
    *,
    default_timezone: str,
    anchor: datetime,
    stored: Mapping[str, Any] | None = None,
) -> tuple[str, list[datetime]]:
    """(zone name, the next `count` times the beat would fire strictly after `after`)."""
    tz_name = schedule.timezone or default_timezone
    try:
        entry = entry_from_row(
            beat_row(schedule, anchor=anchor, stored=stored), default_timezone=default_timezone
        )
    except BadRow as exc:
        raise UnschedulableRow(f"schedule {schedule.name!r} cannot be scheduled: {exc}") from None
    zone = ZoneInfo(tz_name)
    return tz_name, [t.astimezone(zone) for t in upcoming(entry, after, count)]


def _unknown(name: str, names: Sequence[str]) -> UnknownSchedule:
    return UnknownSchedule(f"no schedule named {name!r}{did_you_mean(name, names)}")


def stored_row(name: str, database_url: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The table row named `name` (None if absent) and, when absent, the names there are.

    Raises the store's errors (no database file, unreachable) for the caller to judge."""
    from syncd import store

    store.require_database(database_url)
    with store.connect(database_url) as conn:
        if not store.has_schema(conn):
            return None, []
        record = store.schedule_row(conn, name)
        if record is None:
            return None, store.schedule_names(conn)
        return record, []


def find_schedule(
    name: str,
    paths: Sequence[str],
    *,
    from_db: bool,
    database_url: str,
    default_timezone: str,
    limits: Any = None,
) -> tuple[Schedule, dict[str, Any] | None]:
    """The schedule (from the YAML, or the table with `from_db`) and its stored row, if
    the database has one (the YAML view reads it only to learn the run state)."""
    if from_db:
        row, names = stored_row(name, database_url)
        if row is None:
            raise _unknown(name, names)
        return schedule_from_row(row), row
    from syncd.loader import DEFAULT_SIZE_LIMITS
    from syncd.validate import load

    schedules, diagnostics = load(
        paths, default_timezone=default_timezone, limits=limits or DEFAULT_SIZE_LIMITS
    )
    if diagnostics:
        raise InvalidSchedules(diagnostics)
    for schedule in schedules:
        if schedule.name == name:
            try:
                stored, _ = stored_row(name, database_url)
            except SyncdError:
                stored = None  # no database here: as if applied now
            return schedule, stored
    raise _unknown(name, [s.name for s in schedules])


def load_entries(
    paths: Sequence[str],
    *,
    from_db: bool,
    database_url: str,
    default_timezone: str,
    anchor: datetime,
    limits: Any = None,
) -> list[Entry]:
    """Every schedule as the beat would load it (the YAML, or the table with `from_db`),
    for `syncd next --load`; a row the beat cannot schedule is left out, as the beat
    leaves it out."""
    from syncd.store import DatabaseError

    stored: dict[str, dict[str, Any]] = {}
    try:
        stored = {r["name"]: r for r in _all_rows(database_url)}
    except (SyncdError, DatabaseError):
        if from_db:
            raise  # the YAML view without a database: as if applied at `anchor`
    if from_db:
        rows = list(stored.values())
    else:
        from syncd.loader import DEFAULT_SIZE_LIMITS
        from syncd.validate import load

        schedules, diagnostics = load(
            paths, default_timezone=default_timezone, limits=limits or DEFAULT_SIZE_LIMITS
        )
        if diagnostics:
            raise InvalidSchedules(diagnostics)
        rows = [beat_row(s, anchor=anchor, stored=stored.get(s.name)) for s in schedules]
    entries = []
    for row in rows:
        try:
            entries.append(entry_from_row(row, default_timezone=default_timezone))
        except BadRow:
            continue
    return entries


def _all_rows(database_url: str) -> list[dict[str, Any]]:
    from syncd import store

    store.require_database(database_url)
    with store.connect(database_url) as conn:
        return store.schedule_rows(conn)


def render_next(
    name: str,
    tz_name: str,
    times: Sequence[datetime],
    fmt: str,
    description: str | None = None,
) -> str:
    """`description`: the cron expression in words (syncd.crontext), when it has some."""
    stamps = [format_time(t) for t in times]
    if fmt == "json":
        return json.dumps(
            {"name": name, "timezone": tz_name, "description": description, "fire_times": stamps},
            indent=2,
        )
    words = f", {description[:1].lower()}{description[1:]}" if description else ""
    if fmt == "markdown":
        rows = "\n".join(f"| {s} |" for s in stamps)
        return f"### Next runs of `{name}` ({tz_name}{words})\n\n| fire time |\n|---|\n{rows}\n"
    if fmt == "github":
        listed = ", ".join(stamps) or "none (disabled, expired or never)"
        return f"::notice title=syncd next {name} ({tz_name}{words})::{listed}"
    if not stamps:
        return f"{name} ({tz_name}{words}): no upcoming fire times (disabled, expired or never)"
    return "\n".join([f"{name} ({tz_name}{words}):", *(f"  {s}" for s in stamps)])

"""`syncd next`: a schedule's next fire times, computed by the beat's own timetable code."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from celeryapp.schedules import CronTimetable, IntervalTimetable, Timetable, fire_times
from syncd.errors import InvalidSchedules, UnknownSchedule
from syncd.spec import Schedule, format_time, schedule_from_row


def timetable_for(schedule: Schedule, *, default_timezone: str, anchor: datetime) -> Timetable:
    tz = ZoneInfo(schedule.timezone or default_timezone)
    if schedule.cron is not None:
        return CronTimetable(schedule.cron, tz)
    assert schedule.every is not None
    return IntervalTimetable(schedule.every, schedule.start_time or anchor, tz)


def fire_times_for(
    schedule: Schedule, after: datetime, count: int, *, default_timezone: str, anchor: datetime
) -> tuple[str, list[datetime]]:
    tz_name = schedule.timezone or default_timezone
    timetable = timetable_for(schedule, default_timezone=default_timezone, anchor=anchor)
    if not schedule.enabled:
        return tz_name, []
    expires = schedule.expires
    times = fire_times(timetable, after, count, start_time=schedule.start_time, expires=expires)
    zone = ZoneInfo(tz_name)
    return tz_name, [t.astimezone(zone) for t in times]


def _unknown(name: str, names: Sequence[str]) -> UnknownSchedule:
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UnknownSchedule(f"no schedule named {name!r}{hint}")


def find_schedule(
    name: str,
    paths: Sequence[str],
    *,
    from_db: bool,
    database_url: str,
    default_timezone: str,
    now: datetime,
    limits: Any = None,
) -> tuple[Schedule, datetime]:
    """The schedule and its interval anchor (YAML: `now`, as if applied now; table: when its
    timing last changed)."""
    if from_db:
        from syncd import store

        store.require_database(database_url)
        with store.connect(database_url) as conn:
            record = store.schedule_row(conn, name)
            if record is None:
                raise _unknown(name, store.schedule_names(conn))
        anchor = record["schedule_changed_time"] or record["created_time"] or now
        return schedule_from_row(record), anchor
    from syncd.loader import DEFAULT_SIZE_LIMITS
    from syncd.validate import load

    schedules, diagnostics = load(
        paths, default_timezone=default_timezone, limits=limits or DEFAULT_SIZE_LIMITS
    )
    if diagnostics:
        raise InvalidSchedules(diagnostics)
    for schedule in schedules:
        if schedule.name == name:
            return schedule, now
    raise _unknown(name, [s.name for s in schedules])


def render_next(name: str, tz_name: str, times: Sequence[datetime], fmt: str) -> str:
    stamps = [format_time(t) for t in times]
    if fmt == "json":
        return json.dumps({"name": name, "timezone": tz_name, "fire_times": stamps}, indent=2)
    if fmt == "markdown":
        rows = "\n".join(f"| {s} |" for s in stamps)
        return f"### Next runs of `{name}` ({tz_name})\n\n| fire time |\n|---|\n{rows}\n"
    if fmt == "github":
        listed = ", ".join(stamps) or "none (disabled, expired or never)"
        return f"::notice title=syncd next {name} ({tz_name})::{listed}"
    if not stamps:
        return f"{name} ({tz_name}): no upcoming fire times (disabled, expired or never)"
    return "\n".join([f"{name} ({tz_name}):", *(f"  {s}" for s in stamps)])

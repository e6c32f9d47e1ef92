"""`syncd next --load`: how many runs fall in each minute of the next 24 hours and in each
hour of the next 7 days, computed by the beat's own code (`beatcore.upcoming`), so a herd
at `0 0 * * *` or at `:00` shows before it reaches the workers.

Pure. Schedules whose fire times are the same by construction (the same cron expression
and zone, or the same interval grid, with the same start, expiry and one-off state) are
computed once and counted as many times as there are: a fleet of 10 000 schedules on a
handful of expressions costs a handful of timetable walks.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celeryapp.beatcore import upcoming
from celeryapp.dueplan import Entry
from celeryapp.schedules import CronTimetable, IntervalTimetable, to_utc

MINUTES = 24 * 60  # per-minute bins: the next 24 hours
HOURS = 7 * 24  # per-hour bins: the next 7 days
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BARS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Load:
    after: datetime  # UTC: runs strictly after this instant are counted
    minute_start: datetime  # the minute `after` falls in; per_minute[i] starts i minutes later
    per_minute: list[int]
    hour_start: datetime  # the hour `after` falls in; per_hour[i] starts i hours later
    per_hour: list[int]
    schedules: int


def timing_key(entry: Entry) -> Hashable:
    """Equal for two entries exactly when the beat fires them at the same instants."""
    table = entry.timetable
    grid: Hashable
    if isinstance(table, IntervalTimetable):
        # An interval grid is anchor + k * seconds for every k: any anchor on it will do.
        offset = (to_utc(table.anchor) - _EPOCH).total_seconds() % table.seconds
        grid = ("every", table.seconds, offset)
    elif isinstance(table, CronTimetable):
        grid = ("cron", table.expr, table.tz.key)
    else:  # pragma: no cover - the beat has no other timetable
        grid = ("entry", id(entry))
    # A one-off's last run decides whether it fires at all; any other schedule's run state
    # only decides a run at `after` itself, which `upcoming` does not count.
    ran = (entry.has_run, entry.baseline) if entry.one_off else None
    # A jittered schedule fires at due + its own offset: the offset is part of its timing.
    jitter = entry.offset
    return (grid, jitter, entry.start_time, entry.expire_time, entry.enabled, entry.one_off, ran)


def load(entries: Iterable[Entry], after: datetime) -> Load:
    """Runs per minute (next 24 h) and per hour (next 7 days) strictly after `after`."""
    after = to_utc(after)
    minute_start = after.replace(second=0, microsecond=0)
    hour_start = minute_start.replace(minute=0)
    until = max(minute_start + timedelta(minutes=MINUTES), hour_start + timedelta(hours=HOURS))
    groups: dict[Hashable, tuple[Entry, int]] = {}
    count = 0
    for entry in entries:
        count += 1
        # Due times at or before the baseline are done: a baseline after `after` (an
        # --after in the past) moves the first one, so such entries are grouped apart.
        late_base = entry.baseline if entry.baseline and to_utc(entry.baseline) > after else None
        key = (timing_key(entry), late_base)
        first, n = groups.get(key, (entry, 0))
        groups[key] = (first, n + 1)
    minutes: Counter[int] = Counter()
    hours: Counter[int] = Counter()
    per_minute = [0] * MINUTES
    per_hour = [0] * HOURS
    for first, n in groups.values():
        if _is_plain_grid(first):
            _count_grid(first, after, until, minute_start, 60, per_minute, n)
            _count_grid(first, after, until, hour_start, 3600, per_hour, n)
            continue
        for due in upcoming(first, after, sys.maxsize, until=until):
            at = to_utc(due)
            minutes[int((at - minute_start).total_seconds() // 60)] += n
            hours[int((at - hour_start).total_seconds() // 3600)] += n
    for i, c in minutes.items():
        if 0 <= i < MINUTES:
            per_minute[i] += c
    for i, c in hours.items():
        if 0 <= i < HOURS:
            per_hour[i] += c
    return Load(
        after=after,
        minute_start=minute_start,
        per_minute=per_minute,
        hour_start=hour_start,
        per_hour=per_hour,
        schedules=count,
    )


def _is_plain_grid(entry: Entry) -> bool:
    """An enabled, repeating interval: its fire times after any instant are every grid
    point inside start/expiry, which arithmetic counts without walking them (an every-10s
    schedule has 60 480 in a week)."""
    return (
        isinstance(entry.timetable, IntervalTimetable)
        and entry.enabled
        and not entry.one_off
        and not entry.offset  # a jittered one is walked: its fire times are not the grid
    )


def _micros(at: datetime) -> int:
    delta = to_utc(at) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _count_grid(
    entry: Entry,
    after: datetime,
    until: datetime,
    origin: datetime,
    width_seconds: int,
    bins: list[int],
    weight: int,
) -> None:
    """Add `weight` to bins[i] for every grid point t with after < t <= until, inside the
    entry's start and expiry, in [origin + i*width, origin + (i+1)*width)."""
    table = entry.timetable
    assert isinstance(table, IntervalTimetable)
    step, anchor = table.seconds * 1_000_000, _micros(table.anchor)
    low, high = _micros(after) + 1, _micros(until)
    if entry.start_time is not None:
        low = max(low, _micros(entry.start_time))
    if entry.expire_time is not None:
        high = min(high, _micros(entry.expire_time))
    if entry.baseline is not None:
        low = max(low, _micros(entry.baseline) + 1)
    width, base = width_seconds * 1_000_000, _micros(origin)
    for i in range(len(bins)):
        a, b = max(low, base + i * width), min(high, base + (i + 1) * width - 1)
        if a > b:
            continue
        # grid points anchor + k*step in [a, b]: k from ceil((a-anchor)/step) to floor(...)
        count = (b - anchor) // step - (-((anchor - a) // step)) + 1
        if count > 0:
            bins[i] += count * weight


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def busiest(load: Load, *, hours: bool = False, top: int = 5) -> list[tuple[datetime, int]]:
    """The busiest bins, busiest first (earliest first among equals); empty bins left out."""
    counts, start, step = (
        (load.per_hour, load.hour_start, timedelta(hours=1))
        if hours
        else (load.per_minute, load.minute_start, timedelta(minutes=1))
    )
    ranked = sorted((i for i, n in enumerate(counts) if n), key=lambda i: (-counts[i], i))
    return [(start + i * step, counts[i]) for i in ranked[:top]]


def sparkline(counts: list[int]) -> str:
    peak = max(counts, default=0)
    if not peak:
        return " " * len(counts)
    return "".join(_BARS[0 if not n else max(1, round(n / peak * 8))] for n in counts)


def render_load(load: Load, fmt: str) -> str:
    day = sum(load.per_minute)
    if fmt == "json":
        return json.dumps(
            {
                "after": load.after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "schedules": load.schedules,
                "minute_start": _stamp(load.minute_start),
                "per_minute": load.per_minute,
                "hour_start": _stamp(load.hour_start),
                "per_hour": load.per_hour,
                "busiest_minutes": [
                    {"start": _stamp(t), "runs": n} for t, n in busiest(load, top=10)
                ],
                "busiest_hours": [
                    {"start": _stamp(t), "runs": n} for t, n in busiest(load, hours=True, top=10)
                ],
            }
        )
    minutes, hours = busiest(load), busiest(load, hours=True)
    if fmt == "markdown":
        rows = "\n".join(f"| {_stamp(t)} | {n:,} |" for t, n in minutes)
        return (
            f"### Load of {load.schedules:,} schedules: {day:,} runs in the next 24 hours\n\n"
            f"| busiest minute (UTC) | runs |\n|---|---|\n{rows}\n"
        )
    if fmt == "github":
        peak = f"; busiest minute {_stamp(minutes[0][0])} with {minutes[0][1]:,}" if minutes else ""
        return f"::notice title=syncd next --load::{day:,} runs in the next 24 hours{peak}"
    lines = [
        f"{load.schedules:,} schedules: {day:,} runs in the next 24 hours after "
        f"{load.after.strftime('%Y-%m-%dT%H:%M:%SZ')}, "
        f"{sum(load.per_hour):,} in the next 7 days",
        "busiest minutes (UTC):",
        *(f"  {_stamp(t)}  {n:,}" for t, n in minutes),
        "busiest hours of the week (UTC):",
        *(f"  {_stamp(t)}  {n:,}" for t, n in hours),
        f"runs per hour, next 24 h from {_stamp(load.hour_start)}:",
        f"  |{sparkline(load.per_hour[:24])}|",
    ]
    return "\n".join(lines)

"""When a schedule is due: cron (via cronsim, Debian-cron DST rules) and fixed-grid intervals.

Pure functions of their inputs: every decision takes the instant as an argument, so the
beat, `syncd next` and the tests share one implementation and one set of DST rules.

Rules (DESIGN §4):
* cron is five-field Vixie cron, evaluated in the schedule's own zone; both day fields
  restricted means either may match (cronsim does this; Celery's crontab would AND them);
* a time skipped by spring-forward fires once right after the gap; a fixed time repeated by
  fall-back fires once, on its first pass; `*`-minute/hour jobs fire in both passes;
* "next after T" is strictly later than T *as an instant*: cronsim works in wall time and can
  hand back a time before its start when started in the second pass of a repeated hour, so
  results are compared in UTC and skipped when not later;
* intervals never drift: due times are anchor + k * interval.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError


class ScheduleType(enum.IntEnum):
    """fba's `type` column values, kept for compatibility.

    Here, not in `models`, because `models` reads the environment and imports SQLAlchemy
    when imported, and `syncd validate` needs this enum without either.
    """

    INTERVAL = 0
    CRONTAB = 1


MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MINUTE = timedelta(minutes=1)
# cronsim gives up after 50 years; a cron that fires less often than this never fires.
_MAX_SKIPS = 100_000


class CronError(ValueError):
    """A cron expression that cronsim cannot parse or that can never fire."""


def expand_cron(expr: str) -> str:
    """Expand `@daily`-style macros to five fields (cronsim does not parse them)."""
    text = expr.strip()
    if text.startswith("@"):
        try:
            return MACROS[text.lower()]
        except KeyError:
            raise CronError(f"unknown cron macro {text!r}") from None
    return " ".join(text.split())


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # already (what astimezone would return: the value itself)
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware instant")
    return value.astimezone(UTC)


class Timetable(Protocol):
    """The due times of one schedule, as instants."""

    def next_after(self, after: datetime) -> datetime | None:
        """The first due time strictly later than `after` (None: never again)."""

    def latest_at_or_before(self, at: datetime) -> datetime | None:
        """The last due time at or before `at` (None: none)."""


@dataclass(frozen=True)
class CronTimetable:
    expr: str
    tz: ZoneInfo

    def __post_init__(self) -> None:
        expanded = expand_cron(self.expr)
        if len(expanded.split()) != 5:
            raise CronError(f"cron {self.expr!r} must have five fields")
        try:
            CronSim(expanded, datetime(2000, 1, 1, tzinfo=self.tz))
        except CronSimError as exc:
            raise CronError(f"cron {self.expr!r}: {exc}") from None
        object.__setattr__(self, "expr", expanded)

    def _iter(self, start: datetime, *, reverse: bool = False) -> Iterator[datetime]:
        return CronSim(self.expr, start.astimezone(self.tz), reverse=reverse)

    def next_after(self, after: datetime) -> datetime | None:
        # Rows share expressions and the beat asks about the same instants for all of them
        # (load, burst), so answers are memoized per (expression, zone, instant).
        return _cron_next(self.expr, self.tz, to_utc(after))

    def _next_after(self, after: datetime) -> datetime | None:
        floor = to_utc(after)
        it = self._iter(after)
        for _ in range(_MAX_SKIPS):
            try:
                candidate = next(it)
            except (StopIteration, OverflowError):  # past year 9999: never again
                return None
            if candidate.astimezone(UTC) > floor:
                return candidate
        return None

    def latest_at_or_before(self, at: datetime) -> datetime | None:
        return _cron_latest(self.expr, self.tz, to_utc(at))

    def _latest_at_or_before(self, at: datetime) -> datetime | None:
        ceiling = to_utc(at)
        # cronsim's reverse iteration starts strictly before its start: nudge by a second
        # so a due time exactly at `at` counts.
        it = self._iter(at + timedelta(seconds=1), reverse=True)
        for _ in range(_MAX_SKIPS):
            try:
                candidate = next(it)
            except StopIteration:
                return None
            if candidate.astimezone(UTC) <= ceiling:
                return candidate
        return None

    def can_fire(self, after: datetime) -> bool:
        return self.next_after(after) is not None

    def shortest_gap(self, after: datetime, count: int) -> timedelta | None:
        """The shortest time between two consecutive due times among the first `count`
        after `after`, as instants (None: fewer than two). Stops at one minute, the
        shortest a cron has."""
        shortest: timedelta | None = None
        previous: datetime | None = None
        it = self._iter(after)
        for _ in range(count):
            try:
                due = next(it).astimezone(UTC)
            except (StopIteration, OverflowError):
                break
            if previous is not None and due > previous:
                gap = due - previous
                shortest = gap if shortest is None or gap < shortest else shortest
                if shortest <= _MINUTE:
                    break
            if previous is None or due > previous:
                previous = due
        return shortest


@lru_cache(maxsize=65536)
def _cron_next(expr: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    return CronTimetable(expr, tz)._next_after(after)


@lru_cache(maxsize=65536)
def _cron_latest(expr: str, tz: ZoneInfo, at: datetime) -> datetime | None:
    return CronTimetable(expr, tz)._latest_at_or_before(at)


@dataclass(frozen=True)
class IntervalTimetable:
    """Due at anchor + k*seconds for every integer k (the grid extends before the anchor
    too; callers clamp with start_time)."""

    seconds: int
    anchor: datetime
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.seconds < 1:
            raise ValueError(f"interval must be at least 1 second, got {self.seconds}")

    def _k_floor(self, at: datetime) -> int:
        delta = to_utc(at) - to_utc(self.anchor)
        return int(delta.total_seconds() // self.seconds)

    def _at(self, k: int) -> datetime:
        return (to_utc(self.anchor) + timedelta(seconds=k * self.seconds)).astimezone(self.tz)

    def next_after(self, after: datetime) -> datetime | None:
        # Memoized as crons are: rows of one timing (period, anchor, zone) share answers,
        # and a load asks every row about the same instant.
        return _interval_next(self.seconds, self.anchor, self.tz, to_utc(after))

    def latest_at_or_before(self, at: datetime) -> datetime | None:
        return _interval_latest(self.seconds, self.anchor, self.tz, to_utc(at))

    def _next_after(self, after: datetime) -> datetime | None:
        k = self._k_floor(after)
        try:
            candidate = self._at(k)
            while candidate.astimezone(UTC) <= to_utc(after):
                k += 1
                candidate = self._at(k)
        except OverflowError:  # the next due time is past year 9999: never again
            return None
        return candidate

    def _latest_at_or_before(self, at: datetime) -> datetime | None:
        k = self._k_floor(at)
        candidate = self._at(k)
        while candidate.astimezone(UTC) > to_utc(at):
            k -= 1
            candidate = self._at(k)
        return candidate


@lru_cache(maxsize=65536)
def _interval_next(
    seconds: int, anchor: datetime, tz: ZoneInfo, after: datetime
) -> datetime | None:
    return IntervalTimetable(seconds, anchor, tz)._next_after(after)


@lru_cache(maxsize=65536)
def _interval_latest(seconds: int, anchor: datetime, tz: ZoneInfo, at: datetime) -> datetime | None:
    return IntervalTimetable(seconds, anchor, tz)._latest_at_or_before(at)


def format_due(due: datetime) -> str:
    """A due time as the task id and the message header write it: RFC 3339 UTC, seconds."""
    return to_utc(due).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_id(name: str, due: datetime) -> str:
    """The task id of one (schedule, due time): `NAME@DUE`, DUE in RFC 3339 UTC."""
    return f"{name}@{format_due(due)}"

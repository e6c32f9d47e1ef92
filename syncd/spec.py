"""A validated schedule as a plain value, and its two projections: YAML fields and table row.

This module is the contract between the front half (loader, schema, rules: files in,
`Schedule` values out) and the back half (plan, store: `Schedule` values against rows).

* `Schedule` holds typed, normalized values (durations in seconds, aware datetimes).
* `fields(schedule)` gives the YAML-level view used by diffs and rendering: field name ->
  canonical JSON value (durations as compact strings like "1h30m", datetimes in RFC 3339).
* `row_values(schedule)` gives the table columns; `fields_from_row(columns)` inverts it, so a
  row can be diffed (and exported) in YAML terms.
* `row_hash(columns)` fingerprints a row's schedule columns; a stored hash that no longer
  matches the row means someone edited the row by hand (drift).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from celeryapp.schedules import ScheduleType

_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


@functools.cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern (ECMA-262) as a Python regex. `$` ends the text in ECMA-262;
    in Python it also matches before a final newline, so `name: "nightly\\n"` would pass."""
    return re.compile(_UNESCAPED_DOLLAR.sub(r"\\Z", pattern))


# Patterns end with (?!\n)$: the same verdict under ECMA-262 (editors) and Python's re
# (jsonschema, check-jsonschema), where a bare $ also matches before a final newline.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}(?!\n)$"
NAME_RE = ecma_regex(NAME_PATTERN)

# The YAML fields of a schedule, in the order they are rendered and diffed.
FIELD_ORDER: tuple[str, ...] = (
    "task",
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
)

# Values a field takes when the YAML leaves it out; equal to these means "not set".
FIELD_DEFAULTS: dict[str, Any] = {
    "args": None,
    "kwargs": None,
    "queue": None,
    "exchange": None,
    "routing_key": None,
    "timezone": None,
    "start_time": None,
    "expires": None,
    "expire_seconds": None,
    "one_off": False,
    "enabled": True,
    "catchup": "latest",
    "catchup_window": None,
    "overlap": "allow",
    "description": None,
}

_DURATION_RE = re.compile(r"(\d+)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_PATTERN = r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?(?!\n)$"
_DURATION_FULL_RE = ecma_regex(DURATION_PATTERN)


@functools.lru_cache(maxsize=4096)  # a tree repeats a handful of durations many times
def parse_duration(text: str) -> int | None:
    """'1h30m' -> 5400; None when the text is not a duration (units d, h, m, s, in order)."""
    if not _DURATION_FULL_RE.match(text):
        return None
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_RE.findall(text))


@functools.lru_cache(maxsize=4096)
def format_duration(seconds: int) -> str:
    """5400 -> '1h30m'; the canonical form that `export` writes and diffs show."""
    if seconds <= 0:
        return f"{seconds}s"
    out = []
    for unit, size in _UNIT_SECONDS.items():
        n, seconds = divmod(seconds, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def format_time(value: datetime) -> str:
    """RFC 3339 with the value's own offset; UTC is written 'Z'."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class Source:
    """Where a schedule is declared. Lines and columns are 1-based."""

    path: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Schedule:
    """One validated schedule, defaults merged. Exactly one of `cron` / `every` is set.

    A value: never changed after it is built (`dataclasses.replace` makes a new one). Not
    declared frozen only because frozen dataclasses construct at half the speed, and an
    apply builds one per schedule.
    """

    name: str
    task: str
    cron: str | None = None
    every: int | None = None  # seconds
    args: tuple[Any, ...] | None = None
    kwargs: Mapping[str, Any] | None = None
    queue: str | None = None
    exchange: str | None = None
    routing_key: str | None = None
    timezone: str | None = None
    start_time: datetime | None = None
    expires: datetime | None = None
    expire_seconds: int | None = None
    one_off: bool = False
    enabled: bool = True
    catchup: str = "latest"
    catchup_window: int | None = None  # seconds
    overlap: str = "allow"
    description: str | None = None
    source: Source | None = field(default=None, compare=False)
    # Hash of the source file's bytes and everything its validation depended on.
    source_hash: str | None = field(default=None, compare=False)

    def with_source(self, source: Source, source_hash: str | None) -> Schedule:
        return replace(self, source=source, source_hash=source_hash)


_SCALARS = frozenset({str, int, float, bool})


def _json_value(value: Any) -> Any:
    """Make a value JSON-shaped (tuples to lists, mappings to dicts), recursively."""
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def fields(schedule: Schedule) -> dict[str, Any]:
    """The YAML-level values of every field (unset ones at their default), JSON-shaped.

    Spelled out field by field: it runs once per schedule of every plan, and only five
    fields need converting (the rest are str, int, bool or None already).
    """
    s = schedule
    return {
        "task": s.task,
        "cron": s.cron,
        "every": None if s.every is None else format_duration(s.every),
        "args": None if s.args is None else _json_value(s.args),
        "kwargs": None if s.kwargs is None else _json_value(s.kwargs),
        "queue": s.queue,
        "exchange": s.exchange,
        "routing_key": s.routing_key,
        "timezone": s.timezone,
        "start_time": None if s.start_time is None else format_time(s.start_time),
        "expires": None if s.expires is None else format_time(s.expires),
        "expire_seconds": s.expire_seconds,
        "one_off": s.one_off,
        "enabled": s.enabled,
        "catchup": s.catchup,
        "catchup_window": None if s.catchup_window is None else format_duration(s.catchup_window),
        "overlap": s.overlap,
        "description": s.description,
    }


def set_fields(schedule: Schedule) -> dict[str, Any]:
    """Only the fields that differ from their defaults: what `export` writes."""
    return {
        k: v
        for k, v in fields(schedule).items()
        if v is not None and v != FIELD_DEFAULTS.get(k, object())
    }


def comparable(name: str, value: Any) -> Any:
    """A key under which two renderings of one field value compare equal (instants, not
    offsets: 10:00+01:00 equals 09:00Z)."""
    if name in ("start_time", "expires") and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


def row_values(schedule: Schedule) -> dict[str, Any]:
    """The schedule columns of the table row for this schedule (no run state, no hashes)."""
    is_cron = schedule.cron is not None
    return {
        "name": schedule.name,
        "task": schedule.task,
        "type": int(ScheduleType.CRONTAB if is_cron else ScheduleType.INTERVAL),
        "crontab": schedule.cron,
        "interval_every": schedule.every,
        "interval_period": None if is_cron else "seconds",
        "args": _json_value(schedule.args),
        "kwargs": _json_value(schedule.kwargs),
        "queue": schedule.queue,
        "exchange": schedule.exchange,
        "routing_key": schedule.routing_key,
        "timezone": schedule.timezone,
        "start_time": schedule.start_time,
        "expire_time": schedule.expires,
        "expire_seconds": schedule.expire_seconds,
        "one_off": schedule.one_off,
        "enabled": schedule.enabled,
        "catchup": schedule.catchup,
        "catchup_window": schedule.catchup_window,
        "overlap": schedule.overlap,
        "remark": schedule.description,
    }


# Columns that make up a schedule; the row hash covers exactly these.
SCHEDULE_COLUMNS: tuple[str, ...] = tuple(
    row_values(Schedule(name="x", task="x", cron="* * * * *"))
)


def _interval_seconds(every: int | None, period: str | None) -> int | None:
    if every is None:
        return None
    per = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, None: 1}
    return int(every * per.get(period, 1))


def schedule_from_row(columns: Mapping[str, Any]) -> Schedule:
    """Invert `row_values`: the Schedule a row describes (rows made by fba included)."""
    is_cron = columns.get("type") == ScheduleType.CRONTAB
    args = columns.get("args")
    return Schedule(
        name=columns["name"],
        task=columns["task"],
        cron=columns.get("crontab") if is_cron else None,
        every=None
        if is_cron
        else _interval_seconds(columns.get("interval_every"), columns.get("interval_period")),
        args=tuple(args) if isinstance(args, list) else args,
        kwargs=columns.get("kwargs"),
        queue=columns.get("queue"),
        exchange=columns.get("exchange"),
        routing_key=columns.get("routing_key"),
        timezone=columns.get("timezone"),
        start_time=columns.get("start_time"),
        expires=columns.get("expire_time"),
        expire_seconds=columns.get("expire_seconds"),
        one_off=bool(columns.get("one_off", False)),
        enabled=bool(columns.get("enabled", True)),
        catchup=columns.get("catchup") or "latest",
        catchup_window=columns.get("catchup_window"),
        overlap=columns.get("overlap") or "allow",
        description=columns.get("remark"),
    )


def fields_from_row(columns: Mapping[str, Any]) -> dict[str, Any]:
    return fields(schedule_from_row(columns))


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def row_hash(columns: Mapping[str, Any]) -> str:
    """Fingerprint of a row's schedule columns, stable across backends (instants in UTC).

    On the hot path of every plan (one per managed row), so it leans on json's C encoder:
    tuples encode as lists, nested keys are sorted, only datetimes need help.
    """
    payload = [columns.get(name) for name in SCHEDULE_COLUMNS]
    return hashlib.sha256(_HASH_ENCODER.encode(payload).encode()).hexdigest()


# One encoder for every hash: json.dumps with non-default options builds a new one per call.
_HASH_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_instant
)

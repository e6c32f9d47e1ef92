"""The schedule's fields, declared once: YAML key, column, kind, default, and who reads them.

Both halves derive from `FIELDS`: the sync side's `Schedule` projections (YAML values for
diffs and export, table columns for the store), the plan's notion of a timing change, and
the run side's beat entry and message options. Adding a field is one `Field` here plus its
rule (docs/architecture.md, "Adding a schedule field").

Pure: no SQLAlchemy, no environment, no clock. It lives on the run side because the run side
never imports `syncd`, and both need it.

Rules:
* a field's YAML key is its name; its column may differ (`expires` is `expire_time`,
  `description` is fba's `remark`);
* `cron` and `every` share fba's encoding: `type` says which, an interval is
  `interval_every` x `interval_period` (syncd writes seconds; other writers may not);
* a value equal to its field's default means "not set": export leaves it out;
* the row hash covers every column of the first schema; a field added later (`added=True`)
  is hashed only when set, so rows written before it existed keep their hash (no drift).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celeryapp.schedules import ScheduleType

# --- value encodings --------------------------------------------------------------------

_DURATION_RE = re.compile(r"(\d+)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
DURATION_PATTERN = r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?(?!\n)$"
_DURATION_FULL_RE = re.compile(r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?\Z")
# fba's interval_period names for the same units.
PERIOD_SECONDS = {
    period: _UNIT_SECONDS[period[0]] for period in ("days", "hours", "minutes", "seconds")
}


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


def interval_seconds(every: Any, period: Any) -> int:
    """fba's (interval_every, interval_period) as whole seconds; ValueError if it is not."""
    period = period or "seconds"
    if type(every) is not int or period not in PERIOD_SECONDS:
        raise ValueError(f"interval {every!r} {period!r} is not a whole interval")
    return every * PERIOD_SECONDS[period]


_SCALARS = frozenset({str, int, float, bool})


def json_value(value: Any) -> Any:
    """Make a value JSON-shaped (tuples to lists, mappings to dicts), recursively."""
    if value is None or type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


# --- the declaration --------------------------------------------------------------------

# kind -> (typed value -> YAML/JSON value); absent: the value is already JSON-shaped.
_TO_YAML: dict[str, Callable[[Any], Any]] = {
    "duration": format_duration,
    "instant": format_time,
    "json": json_value,
}


@dataclass(frozen=True)
class Field:
    """One field of a schedule.

    `kind`: text, int, bool, json (args/kwargs), duration (seconds; YAML "1h30m"),
    instant (aware datetime; YAML RFC 3339). `cron` and `every` are stored in fba's
    encoding (the `type` column says which).
    `timing`: a change restarts the schedule (missed runs before it are not missed; an
    interval without start_time is anchored at it). `beat`: the beat loads the column.
    `option`: the Celery message option that carries the value. `added`: declared after
    the row hash was fixed (hashed only when set). What a field means, its type and range
    for people are in the JSON Schema (syncd/schemas/schedule.schema.json), which the
    reference docs are generated from; a unit test keeps the two lists of fields equal.
    """

    name: str
    column: str
    kind: str
    default: Any = None
    required: bool = False
    timing: bool = False
    beat: bool = True
    option: str | None = None
    added: bool = False

    def to_yaml(self, value: Any) -> Any:
        encode = _TO_YAML.get(self.kind)
        return value if value is None or encode is None else encode(value)


FIELDS: tuple[Field, ...] = (
    Field("name", "name", "text", required=True),
    Field("task", "task", "text", required=True),
    Field("cron", "crontab", "text", timing=True),
    Field("every", "interval_every", "duration", timing=True),
    Field("args", "args", "json"),
    Field("kwargs", "kwargs", "json"),
    Field("queue", "queue", "text", option="queue"),
    Field("exchange", "exchange", "text", option="exchange"),
    Field("routing_key", "routing_key", "text", option="routing_key"),
    Field(
        "priority",
        "priority",
        "int",
        option="priority",
        added=True,
    ),
    # Not a message option: the message's headers are the schedule's plus syncd's own
    # (dueplan.message), which a schedule cannot override (rules refuse the names).
    Field("headers", "headers", "json", added=True),
    Field("timezone", "timezone", "text", timing=True),
    Field("start_time", "start_time", "instant", timing=True),
    Field("expires", "expire_time", "instant"),
    Field("expire_seconds", "expire_seconds", "int"),
    Field("one_off", "one_off", "bool", default=False),
    Field("enabled", "enabled", "bool", default=True, timing=True),
    Field("catchup", "catchup", "text", default="latest"),
    Field("catchup_window", "catchup_window", "duration"),
    # Not a timing change: the due times stay where they were, only when each one is
    # published moves (celeryapp.jitter); the interval's anchor is kept.
    Field("jitter", "jitter", "duration", added=True),
    Field("overlap", "overlap", "text", default="allow"),
    Field("description", "remark", "text", beat=False),
)

# The YAML fields of a schedule besides its name, in the order they are diffed and exported.
YAML_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.name != "name")
# Values a field takes when the YAML leaves it out; equal to these means "not set".
DEFAULTS: dict[str, Any] = {f.name: f.default for f in FIELDS if not f.required}
TIMING_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.timing)
OPTION_FIELDS: tuple[Field, ...] = tuple(f for f in FIELDS if f.option is not None)


def _columns(f: Field) -> tuple[str, ...]:
    if f.name == "cron":
        return ("type", "crontab")
    if f.name == "every":
        return ("interval_every", "interval_period")
    return (f.column,)


# The schedule columns of a row, in order: what the store writes and the plan compares.
ROW_COLUMNS: tuple[str, ...] = tuple(c for f in FIELDS for c in _columns(f))
# The columns the row hash covers in order; later fields join it only when set.
HASHED_COLUMNS: tuple[str, ...] = tuple(c for f in FIELDS if not f.added for c in _columns(f))
ADDED_COLUMNS: tuple[str, ...] = tuple(c for f in FIELDS if f.added for c in _columns(f))
# Run state the beat reads beside the schedule columns.
RUN_STATE_COLUMNS: tuple[str, ...] = ("created_time", "schedule_changed_time", "last_run_time")
BEAT_COLUMNS: tuple[str, ...] = (
    *(c for f in FIELDS if f.beat for c in _columns(f)),
    *RUN_STATE_COLUMNS,
)


# --- rows -------------------------------------------------------------------------------


# (attribute, column, is JSON) of every field stored as it is: all but cron and every.
_PLAIN: tuple[tuple[str, str, bool], ...] = tuple(
    (f.name, f.column, f.kind == "json") for f in FIELDS if f.name not in ("cron", "every")
)
assert [n for n, _, _ in _PLAIN[:2]] == ["name", "task"]  # to_row writes these first


def to_row(schedule: Any) -> dict[str, Any]:
    """A schedule (anything with the fields as attributes: `syncd.spec.Schedule`) as the
    row's schedule columns, in ROW_COLUMNS order."""
    cron = schedule.cron
    row: dict[str, Any] = {"name": schedule.name, "task": schedule.task}
    row["type"] = int(ScheduleType.INTERVAL if cron is None else ScheduleType.CRONTAB)
    row["crontab"] = cron
    row["interval_every"] = schedule.every
    row["interval_period"] = "seconds" if cron is None else None
    for name, column, is_json in _PLAIN[2:]:
        value = getattr(schedule, name)
        row[column] = json_value(value) if is_json else value
    return row


def from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Invert `to_row`: typed field values of a row (rows fba or an admin page wrote too).

    Unset columns take the field's default; an interval in minutes becomes seconds."""
    is_cron = row.get("type") == ScheduleType.CRONTAB
    out: dict[str, Any] = {}
    for f in FIELDS:
        if f.name == "cron":
            out["cron"] = row.get("crontab") if is_cron else None
        elif f.name == "every":
            every = row.get("interval_every")
            out["every"] = (
                None
                if is_cron or every is None
                else interval_seconds(every, row.get("interval_period"))
            )
        else:
            value = row.get(f.column)
            if value is None:
                value = f.default
            elif f.kind == "bool":
                value = bool(value)  # MySQL hands booleans back as 0/1
            out[f.name] = value
    return out


def hash_payload(columns: Mapping[str, Any]) -> list[Any]:
    """What the row hash is computed over (see the module's rule on added fields)."""
    payload: list[Any] = [columns.get(c) for c in HASHED_COLUMNS]
    for column in ADDED_COLUMNS:
        value = columns.get(column)
        if value is not None:
            payload.append([column, value])
    return payload


def message_options(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Celery message options a row sets (queue, exchange, routing_key, priority)."""
    out: dict[str, Any] = {}
    for f in OPTION_FIELDS:
        value = row.get(f.column)
        if value is not None and value != "":
            out[f.option or f.name] = value
    return out


__all__ = [
    "BEAT_COLUMNS",
    "DEFAULTS",
    "DURATION_PATTERN",
    "FIELDS",
    "ROW_COLUMNS",
    "TIMING_FIELDS",
    "YAML_FIELDS",
    "Field",
    "format_duration",
    "format_time",
    "from_row",
    "interval_seconds",
    "message_options",
    "parse_duration",
    "to_row",
]

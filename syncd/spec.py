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

from celeryapp import codec
from celeryapp.codec import DURATION_PATTERN, format_duration, format_time, parse_duration

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

# Values a field takes when the YAML leaves it out; equal to these means "not set".
FIELD_DEFAULTS: dict[str, Any] = codec.DEFAULTS
TIMING_FIELDS = codec.TIMING_FIELDS


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
    priority: int | None = None
    headers: Mapping[str, Any] | None = None
    timezone: str | None = None
    start_time: datetime | None = None
    expires: datetime | None = None
    expire_seconds: int | None = None
    one_off: bool = False
    enabled: bool = True
    catchup: str = "latest"
    catchup_window: int | None = None  # seconds
    jitter: int | None = None  # seconds
    overlap: str = "allow"
    description: str | None = None
    source: Source | None = field(default=None, compare=False)
    # Hash of the source file's bytes and everything its validation depended on.
    source_hash: str | None = field(default=None, compare=False)

    def with_source(self, source: Source, source_hash: str | None) -> Schedule:
        return replace(self, source=source, source_hash=source_hash)


# (field name, its YAML encoding or None): `fields` runs once per schedule of every plan.
_ENCODERS: tuple[tuple[str, Any], ...] = tuple(
    (f.name, f.to_yaml if f.kind in ("duration", "instant", "json") else None)
    for f in codec.YAML_FIELDS
)


def fields(schedule: Schedule) -> dict[str, Any]:
    """The YAML-level values of every field (unset ones at their default), JSON-shaped."""
    out: dict[str, Any] = {}
    for name, encode in _ENCODERS:
        value = getattr(schedule, name)
        out[name] = value if encode is None or value is None else encode(value)
    return out


def set_fields(schedule: Schedule) -> dict[str, Any]:
    """Only the fields that differ from their defaults: what `export` writes."""
    return {
        k: v
        for k, v in fields(schedule).items()
        if v is not None and v != FIELD_DEFAULTS.get(k, object())
    }


_INSTANTS = frozenset(f.name for f in codec.FIELDS if f.kind == "instant")


def comparable(name: str, value: Any) -> Any:
    """A key under which two renderings of one field value compare equal (instants, not
    offsets: 10:00+01:00 equals 09:00Z)."""
    if isinstance(value, str) and name in _INSTANTS:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value


def row_values(schedule: Schedule) -> dict[str, Any]:
    """The schedule columns of the table row for this schedule (no run state, no hashes)."""
    return codec.to_row(schedule)


# Columns that make up a schedule, in the order the store reads them.
SCHEDULE_COLUMNS: tuple[str, ...] = codec.ROW_COLUMNS


def schedule_from_row(columns: Mapping[str, Any]) -> Schedule:
    """Invert `row_values`: the Schedule a row describes (rows made by fba included)."""
    values = codec.from_row(columns)
    if isinstance(values["args"], list):
        values["args"] = tuple(values["args"])
    return Schedule(**values)


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
    payload = codec.hash_payload(columns)
    return hashlib.sha256(_HASH_ENCODER.encode(payload).encode()).hexdigest()


# One encoder for every hash: json.dumps with non-default options builds a new one per call.
_HASH_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_instant
)


__all__ = [  # the value encodings are the codec's, re-exported for the sync side
    "DURATION_PATTERN",
    "FIELD_DEFAULTS",
    "NAME_PATTERN",
    "NAME_RE",
    "SCHEDULE_COLUMNS",
    "TIMING_FIELDS",
    "Schedule",
    "Source",
    "comparable",
    "ecma_regex",
    "fields",
    "fields_from_row",
    "format_duration",
    "format_time",
    "parse_duration",
    "row_hash",
    "row_values",
    "schedule_from_row",
    "set_fields",
]

"""RedBeat: entries stored in Redis by `RedBeatSchedulerEntry.save()`.

Key layout (celery-redbeat 2.x, redbeat/schedulers.py): each entry is a hash at
`{prefix}{name}` (prefix `redbeat:` by default, `redbeat_key_prefix`) with a `definition`
field (JSON: name, task, args, kwargs, options, schedule, enabled) and a `meta` field
(JSON: last_run_at, total_run_count); `{prefix}:schedule` is the sorted set of due times,
`{prefix}:statics` the names that came from `beat_schedule`, `{prefix}:lock` the beat lock.
Schedules and datetimes are JSON objects tagged `__type__` (redbeat/decoder.py): `interval`
(every seconds, relative), `crontab` (Celery's five fields), `rrule`, `datetime`.

`convert` takes the decoded JSON of each entry (no Redis, no redbeat import): the reader
hands over plain dicts. Crontabs are evaluated in the Celery app's timezone, which Redis
does not hold: the caller passes it (`--timezone`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from syncd.importers import celerycron
from syncd.importers.common import (
    call_fields,
    headers_field,
    interval,
    priority_field,
    time_text,
)
from syncd.importers.entries import Candidate, Imported, Note, finish, skip

SOURCE = "redbeat"
CARRIED_OPTIONS = frozenset({"queue", "exchange", "routing_key", "expires", "priority", "headers"})


def decode_time(value: Any) -> datetime | None:
    """RedBeat's tagged datetime (`timezone` a zone name or an offset in seconds)."""
    if not isinstance(value, Mapping) or value.get("__type__") != "datetime":
        return None
    zone = value.get("timezone", "UTC")
    tz: Any = (
        timezone(timedelta(seconds=float(zone)))
        if isinstance(zone, int | float)
        else ZoneInfo(str(zone))
    )
    parts = {k: int(value[k]) for k in ("year", "month", "day", "hour", "minute", "second")}
    return datetime(**parts, microsecond=int(value.get("microsecond", 0)), tzinfo=tz)


def convert(
    entries: Sequence[tuple[str, Any, Any]],
    *,
    timezone_name: str,
    accept_or_days: bool = False,
) -> Imported:
    """(key, definition, meta) per entry -> schedules with `timezone_name` as the default."""
    items: list[Candidate | Note] = []
    for key, definition, meta in entries:
        if not isinstance(definition, Mapping):
            items.append(skip(key, "its definition is not a JSON object"))
            continue
        origin = str(definition.get("name") or key)
        state = meta if isinstance(meta, Mapping) else {}
        try:
            items.append(_candidate(origin, definition, state))
        except ValueError as exc:
            items.append(skip(origin, str(exc)))
    return finish(SOURCE, items, {"timezone": timezone_name}, hold_and_days=not accept_or_days)


def _candidate(origin: str, definition: Mapping[str, Any], meta: Mapping[str, Any]) -> Candidate:
    task = definition.get("task")
    if not isinstance(task, str) or not task:
        raise ValueError("the entry names no task")
    notes: list[str] = []
    fields: dict[str, Any] = {"name": origin, "task": task}
    fields.update(_timing(definition.get("schedule"), meta, notes))
    options = definition.get("options") or {}
    if not isinstance(options, Mapping):
        raise ValueError("its options are not a JSON object")
    fields.update(call_fields(definition.get("args"), definition.get("kwargs"), options))
    _options(options, fields, notes)
    if definition.get("enabled") is False:
        fields["enabled"] = False
    return Candidate(origin, fields, notes)


def _timing(spec: Any, meta: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    kind = spec.get("__type__") if isinstance(spec, Mapping) else None
    if kind == "interval":
        out: dict[str, Any] = {"every": interval(float(spec["every"]))}
        last = decode_time(meta.get("last_run_at"))
        if last is not None:
            out["start_time"] = time_text(last.astimezone(UTC))
        else:
            notes.append(
                "never run: RedBeat fires it at once and counts from there; syncd's "
                "first run is one interval after the apply"
            )
        if spec.get("relative"):
            notes.append("relative=True (rounding to the period) is not carried")
        return out
    if kind == "crontab":
        cron, cron_notes = celerycron.convert({k: spec.get(k, "*") for k in celerycron.ORDER})
        notes.extend(cron_notes)
        return {"cron": cron}
    if kind == "rrule":
        raise ValueError(
            "rrule schedule cannot be carried: syncd schedules are a cron expression or a "
            "fixed interval; rewrite it as one of those"
        )
    raise ValueError(f"schedule {kind or type(spec).__name__!r} cannot be carried")


def _options(options: Mapping[str, Any], fields: dict[str, Any], notes: list[str]) -> None:
    expires = options.get("expires")
    when = decode_time(expires)
    if when is not None:
        fields["expires"] = time_text(when)
    elif isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
        fields["expire_seconds"] = max(1, round(expires))
        if expires != round(expires):
            notes.append(f"expires {expires:g} s rounded to {fields['expire_seconds']} s")
    priority, note = priority_field(options.get("priority"))
    fields.update(priority)
    if note:
        notes.append(note)
    headers, header_notes = headers_field(options.get("headers"))
    fields.update(headers)
    notes.extend(header_notes)
    dropped = sorted(k for k in options if k not in CARRIED_OPTIONS)
    if dropped:
        notes.append("options not carried: " + ", ".join(dropped))

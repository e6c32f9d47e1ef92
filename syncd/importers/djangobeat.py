"""django-celery-beat: `PeriodicTask` rows with their interval, crontab, clocked or solar.

`convert` takes the rows as plain mappings (the task's columns, and under `interval`,
`crontab`, `clocked`, `solar` the joined schedule's columns or None), as `read` fetches
them from Django's database with SQLAlchemy (no Django needed). Mapping (docs/import.md):

* interval -> `every`; its phase is kept by `start_time` = the run the next one counts from
  (last_run_at, else date_changed, as django-celery-beat's ModelEntry does);
* crontab -> `cron` (parsed by Celery, see celerycron) with the crontab's `timezone`;
* clocked -> a one-off: `every: 1d`, `start_time` = clocked_time, `one_off: true`;
* solar -> skipped: a sun event moves every day, no cron or interval expresses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from syncd.importers import celerycron
from syncd.importers.common import (
    aware,
    call_fields,
    headers_field,
    period_interval,
    priority_field,
    text_or_none,
    time_text,
)
from syncd.importers.entries import Candidate, Imported, Note, finish, skip

SOURCE = "django-celery-beat"
PREFIX = "django_celery_beat_"


def convert(
    rows: Sequence[Mapping[str, Any]], *, now: datetime, accept_or_days: bool = False
) -> Imported:
    items: list[Candidate | Note] = []
    for row in rows:
        name = str(row["name"])
        try:
            candidate = _candidate(row, now)
        except ValueError as exc:
            items.append(skip(name, str(exc)))
            continue
        items.append(candidate)
    return finish(SOURCE, items, hold_and_days=not accept_or_days)


def _candidate(row: Mapping[str, Any], now: datetime) -> Candidate:
    name = str(row["name"])
    notes: list[str] = []
    fields: dict[str, Any] = {"name": name, "task": row["task"]}
    fields.update(_timing(row, now, notes))
    fields.update(call_fields(row.get("args"), row.get("kwargs"), row))
    _expiry(row, fields, notes)
    if not row.get("enabled", True):
        fields["enabled"] = False
    if text_or_none(row.get("description")):
        fields["description"] = row["description"]
    priority, note = priority_field(row.get("priority"))
    fields.update(priority)
    if note:
        notes.append(note)
    headers, header_notes = headers_field(row.get("headers"))
    fields.update(headers)
    notes.extend(header_notes)
    return Candidate(name, fields, notes)


def _timing(row: Mapping[str, Any], now: datetime, notes: list[str]) -> dict[str, Any]:
    """The schedule's kind, in django-celery-beat's own order of precedence."""
    if row.get("interval"):
        return _interval(row)
    if row.get("crontab"):
        return _crontab(row, notes)
    if row.get("solar"):
        solar = row["solar"]
        raise ValueError(
            f"solar schedule ({solar.get('event')} at {_degrees(solar.get('latitude'))}, "
            f"{_degrees(solar.get('longitude'))}) cannot be carried: a sun event moves "
            "every day, and syncd schedules are a cron expression or a fixed interval"
        )
    if row.get("clocked"):
        return _clocked(row, now, notes)
    raise ValueError("the task has no interval, crontab, solar or clocked schedule")


def _degrees(value: Any) -> str:
    try:  # PostgreSQL hands back Decimal('52.370000')
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return repr(value)


def _interval(row: Mapping[str, Any]) -> dict[str, Any]:
    spec = row["interval"]
    out: dict[str, Any] = {"every": period_interval(spec.get("every"), spec.get("period"))}
    times = [t for t in (row.get("start_time"), row.get("last_run_at")) if t is not None]
    anchor = max((aware(t) for t in times), default=None)
    if anchor is None and row.get("date_changed") is not None:
        anchor = aware(row["date_changed"])
    if anchor is not None:
        out["start_time"] = time_text(anchor)
    return out


def _crontab(row: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    spec = row["crontab"]
    cron, cron_notes = celerycron.convert(spec)
    notes.extend(cron_notes)
    out: dict[str, Any] = {"cron": cron}
    zone = text_or_none(str(spec.get("timezone") or ""))
    if zone:
        out["timezone"] = zone
    if row.get("start_time") is not None:
        out["start_time"] = time_text(row["start_time"])
        if row.get("last_run_at") is None:
            notes.append(
                "django-celery-beat fires a never-run crontab task at start_time itself, "
                "whatever the crontab says; syncd fires at the first cron time after it"
            )
    return out


def _clocked(row: Mapping[str, Any], now: datetime, notes: list[str]) -> dict[str, Any]:
    at = aware(row["clocked"]["clocked_time"])
    out: dict[str, Any] = {"every": "1d", "start_time": time_text(at), "one_off": True}
    if not row.get("one_off"):
        notes.append("a clocked task runs once; imported as one_off although the row is not")
    if at <= now:
        out["enabled"] = False
        ran = row.get("last_run_at") is not None or row.get("total_run_count")
        notes.append(
            "its clocked time has passed"
            + (" and it ran" if ran else "; Django's beat would fire it at once")
            + ": imported disabled (use `syncd trigger` to run it now)"
        )
    return out


def _expiry(row: Mapping[str, Any], fields: dict[str, Any], notes: list[str]) -> None:
    expires, seconds = row.get("expires"), row.get("expire_seconds")
    if expires is not None:
        fields["expires"] = time_text(expires)
        if seconds:
            notes.append(
                "expire_seconds is dropped: django-celery-beat puts expires on the "
                "message when both are set, and syncd allows only one"
            )
    elif seconds:
        fields["expire_seconds"] = int(seconds)

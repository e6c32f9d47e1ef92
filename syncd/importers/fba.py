"""fba (fastapi_best_architecture): rows of its `task_scheduler` table.

fba's seed called the table `sys_task_scheduler`; its code names it `task_scheduler`
(reference/fba-task-system.md §1). Columns: name, task, args/kwargs (JSON, often a JSON
string inside the JSON column), queue, exchange, routing_key, start_time, expire_time,
expire_seconds, type (0 interval, 1 crontab), interval_every + interval_period, crontab
(`m h dom mon dow`, split on single spaces and parsed by Celery), one_off, enabled,
total_run_count, last_run_time, remark. Every time is evaluated in fba's
DATETIME_TIMEZONE (default Asia/Shanghai), which the table does not hold: the caller
passes it, and naive stored times (MySQL) are read in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from syncd.importers import celerycron
from syncd.importers.common import (
    aware,
    call_fields,
    period_interval,
    text_or_none,
    time_text,
)
from syncd.importers.entries import Candidate, Imported, Note, finish, skip

SOURCE = "fba"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # fba's DATETIME_TIMEZONE default
INTERVAL, CRONTAB = 0, 1


def convert(
    rows: Sequence[Mapping[str, Any]], *, timezone_name: str, accept_or_days: bool = False
) -> Imported:
    zone = ZoneInfo(timezone_name)
    items: list[Candidate | Note] = []
    for row in rows:
        origin = str(row["name"])
        try:
            items.append(_candidate(row, zone))
        except ValueError as exc:
            items.append(skip(origin, str(exc)))
    return finish(SOURCE, items, {"timezone": timezone_name}, hold_and_days=not accept_or_days)


def _crontab(text: Any) -> tuple[str, list[str]]:
    """fba's crontab string, read the way fba reads it (Celery's from_string)."""
    parts = str(text or "").split(" ")
    if len(parts) != 5:
        raise ValueError(f"crontab {text!r} is not five fields split by single spaces")
    return celerycron.convert(dict(zip(celerycron.ORDER, parts, strict=True)))


def _candidate(row: Mapping[str, Any], zone: ZoneInfo) -> Candidate:
    origin = str(row["name"])
    notes: list[str] = []
    fields: dict[str, Any] = {"name": origin, "task": row["task"]}
    start = aware(row["start_time"], zone) if row.get("start_time") else None
    last = aware(row["last_run_time"], zone) if row.get("last_run_time") else None
    if row.get("type") == CRONTAB:
        fields["cron"], cron_notes = _crontab(row.get("crontab"))
        notes.extend(cron_notes)
        if start is not None:
            fields["start_time"] = time_text(start)
            if last is None:
                notes.append(
                    "fba fires a never-run crontab row at start_time itself, whatever the "
                    "crontab says; syncd fires at the first cron time after it"
                )
    elif row.get("type") == INTERVAL:
        fields["every"] = period_interval(row.get("interval_every"), row.get("interval_period"))
        anchor = max((t for t in (start, last) if t is not None), default=None)
        if anchor is not None:
            fields["start_time"] = time_text(anchor)
        else:
            notes.append(
                "never run: fba restarts its countdown at every beat reload (its W6); "
                "syncd's first run is one interval after the apply"
            )
    else:
        raise ValueError(f"type {row.get('type')!r} is neither 0 (interval) nor 1 (crontab)")
    fields.update(call_fields(row.get("args"), row.get("kwargs"), row))
    _expiry(row, zone, fields, notes)
    _state(row, fields, notes)
    if text_or_none(row.get("remark")):
        fields["description"] = row["remark"]
    return Candidate(origin, fields, notes)


def _expiry(
    row: Mapping[str, Any], zone: ZoneInfo, fields: dict[str, Any], notes: list[str]
) -> None:
    if row.get("expire_seconds"):
        fields["expire_seconds"] = int(row["expire_seconds"])
        return
    if row.get("expire_time"):
        fields["expires"] = time_text(aware(row["expire_time"], zone))
        notes.append(
            "fba kept publishing after expire_time (workers discarded the messages, its "
            "W11); syncd stops publishing at expires"
        )


def _state(row: Mapping[str, Any], fields: dict[str, Any], notes: list[str]) -> None:
    enabled = bool(row.get("enabled", True))
    if row.get("one_off"):
        fields["one_off"] = True
        if enabled and row.get("total_run_count"):
            enabled = False
            notes.append("a one-off that already ran: imported disabled, as fba would leave it")
    if not enabled:
        fields["enabled"] = False

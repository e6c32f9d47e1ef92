"""What `syncd list`, `syncd show` and the page say about each schedule, worked out from
what was read: the row, its pause, its recent dispatches (the ledger) and their results
(the result backend, by the `NAME@DUE` task id), at an instant passed in. Pure: no I/O.

The beat's own code answers "when next" (celeryapp.beatcore.upcoming) and "what was due"
(the row's timetable), so these figures never disagree with what the beat does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celeryapp.beatcore import upcoming
from celeryapp.codec import format_duration, interval_seconds
from celeryapp.dueplan import BadRow, Entry, entry_from_row, following
from celeryapp.pausing import holds
from celeryapp.schedules import ScheduleType, to_utc
from syncd.defaults import LIST_STATES
from syncd.plan import Paused
from syncd.spec import format_time

# Celery's task states, as a person reads them; a run with no stored result is "sent"
# once on the broker and "claimed" before (a beat crashed between claim and publish: the
# next leader republishes it).
OUTCOMES = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "STARTED": "running",
    "RETRY": "retrying",
    "REVOKED": "revoked",
    "IGNORED": "ignored",
    "REJECTED": "rejected",
}
NEVER_RAN = "never ran"
STATES = LIST_STATES


@dataclass(frozen=True)
class Result:
    """A run's stored result: Celery's state, when it finished, which worker ran it."""

    status: str
    finished: datetime | None = None
    worker: str | None = None


@dataclass(frozen=True)
class PastRun:
    due: datetime
    task_id: str
    published: datetime | None
    outcome: str
    finished: datetime | None
    worker: str | None

    @property
    def took(self) -> float | None:
        """Seconds from the broker to the stored result (time queued included)."""
        if self.published is None or self.finished is None:
            return None
        return round(max(0.0, (to_utc(self.finished) - to_utc(self.published)).total_seconds()), 3)

    def as_json(self) -> dict[str, Any]:
        return {
            "due": format_time(self.due),
            "task_id": self.task_id,
            "outcome": self.outcome,
            "published": format_time(self.published) if self.published else None,
            "finished": format_time(self.finished) if self.finished else None,
            "took_seconds": self.took,
            "worker": self.worker,
        }


@dataclass(frozen=True)
class View:
    """One schedule as an operator sees it."""

    name: str
    task: str
    timing: str  # "cron: 0 3 * * *" or "every: 1h"
    timezone: str
    enabled: bool
    managed: bool
    source: str | None
    paused: Paused | None
    next_due: datetime | None  # in the schedule's zone
    last_due: datetime | None
    run_count: int
    last_outcome: str
    consecutive_failures: int
    late_seconds: float | None  # a due time this long ago was never dispatched
    unschedulable: str | None = None  # why the beat skips the row
    scope: str | None = None  # the scope owning the row (None: the default scope)
    runs: tuple[PastRun, ...] = field(default=())
    next_times: tuple[datetime, ...] = ()  # the next fire times (next_due first), its zone

    @property
    def state(self) -> str:
        if self.unschedulable:
            return "unschedulable"
        if not self.enabled:
            return "disabled"
        if self.paused is not None:
            return "paused"
        if self.late_seconds is not None:
            return "late"
        if self.consecutive_failures:
            return "failing"
        return "ok"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "timing": self.timing,
            "timezone": self.timezone,
            "state": self.state,
            "enabled": self.enabled,
            "managed": self.managed,
            "scope": self.scope,
            "source": self.source,
            "paused": (
                None
                if self.paused is None
                else {
                    "reason": self.paused.reason,
                    "actor": self.paused.actor,
                    "until": self.paused.until,
                }
            ),
            "next_due": format_time(self.next_due) if self.next_due else None,
            "last_due": format_time(self.last_due) if self.last_due else None,
            "run_count": self.run_count,
            "last_outcome": self.last_outcome,
            "consecutive_failures": self.consecutive_failures,
            "late_seconds": self.late_seconds,
            "unschedulable": self.unschedulable,
        }


def outcome_of(published: datetime | None, result: Result | None) -> str:
    if result is not None and result.status in OUTCOMES:
        return OUTCOMES[result.status]
    return "sent" if published is not None else "claimed"


def past_runs(dispatches: Sequence[Any], results: Mapping[str, Result]) -> tuple[PastRun, ...]:
    """`dispatches` (store.Dispatch, newest first) with their results."""
    out = []
    for d in dispatches:
        result = results.get(d.task_id)
        out.append(
            PastRun(
                due=d.due,
                task_id=d.task_id,
                published=d.published,
                outcome=outcome_of(d.published, result),
                finished=result.finished if result else None,
                worker=result.worker if result else None,
            )
        )
    return tuple(out)


def consecutive_failures(runs: Sequence[PastRun]) -> int:
    """Failures in a row, newest first, not counting runs that have not finished yet."""
    count = 0
    for run in runs:
        if run.outcome in ("sent", "claimed", "running", "retrying"):
            if count:
                break
            continue
        if run.outcome != "failure":
            break
        count += 1
    return count


def _late(
    entry: Entry, paused: Paused | None, now: datetime, late_after: timedelta
) -> float | None:
    """How late the latest due time that should have been dispatched by now is (None: on
    time). A due time younger than `late_after` is not late yet: the beat has a tick and a
    lock TTL to send it. A paused schedule's due times are held, not late."""
    if not entry.enabled or (entry.one_off and entry.has_run) or paused is not None:
        return None
    latest = entry.timetable.latest_at_or_before(now - late_after)
    if latest is None:
        return None
    if entry.start_time is not None and to_utc(latest) < to_utc(entry.start_time):
        return None
    if entry.expire_time is not None and to_utc(latest) > to_utc(entry.expire_time):
        return None
    if entry.baseline is not None and to_utc(latest) <= to_utc(entry.baseline):
        return None
    return round((to_utc(now) - to_utc(latest)).total_seconds(), 1)


def view(
    row: Mapping[str, Any],
    *,
    pause: Mapping[str, Any] | None,
    dispatches: Sequence[Any],
    results: Mapping[str, Result],
    now: datetime,
    default_timezone: str,
    late_after: timedelta,
    upcoming_count: int = 1,
) -> View:
    """A schedule row as `list` and `show` report it (`upcoming_count`: how many of the
    next fire times to work out)."""
    timing = timing_of(row)
    zone = row.get("timezone") or default_timezone
    held = None
    if pause is not None and holds(pause.get("until_time"), now):
        until = pause.get("until_time")
        held = Paused(
            row["name"], pause["reason"], pause.get("actor"), format_time(until) if until else None
        )
    runs = past_runs(dispatches, results)
    last_due = row.get("last_run_time")
    base = {
        "name": row["name"],
        "task": row["task"],
        "timing": timing,
        "timezone": zone,
        "enabled": bool(row.get("enabled", True)),
        "managed": bool(row.get("managed")),
        "scope": row.get("scope"),
        "source": row.get("source"),
        "paused": held,
        "last_due": last_due,
        "run_count": int(row.get("total_run_count") or 0),
        "last_outcome": runs[0].outcome if runs else (NEVER_RAN if not last_due else "unknown"),
        "consecutive_failures": consecutive_failures(runs),
        "runs": runs,
    }
    try:
        entry = entry_from_row({**row, "enabled": True}, default_timezone=default_timezone)
    except (BadRow, ValueError, OverflowError) as exc:
        return View(**base, next_due=None, late_seconds=None, unschedulable=str(exc))
    if not base["enabled"]:
        return View(**base, next_due=None, late_seconds=None)
    start: datetime | None = now
    if held is not None:
        until = pause.get("until_time") if pause else None
        # From the pause's end (a due time at `until` exactly runs); none while indefinite.
        start = until - timedelta(microseconds=1) if until is not None else None
    here = ZoneInfo(zone)
    if start is None:
        nxt = []
    elif upcoming_count == 1:  # the same first time as `upcoming`, without its walk
        first = following(entry, start)
        nxt = [first.astimezone(here)] if first is not None else []
    else:
        nxt = [t.astimezone(here) for t in upcoming(entry, start, upcoming_count)]
    return View(
        **base,
        next_due=nxt[0] if nxt else None,
        late_seconds=_late(entry, held, now, late_after),
        next_times=tuple(nxt),
    )


def timing_of(row: Mapping[str, Any]) -> str:
    """`cron: EXPR` or `every: DURATION`, as the YAML says it."""
    if row.get("type") == ScheduleType.CRONTAB:
        return f"cron: {row.get('crontab')}"
    every, period = row.get("interval_every"), row.get("interval_period")
    try:
        return f"every: {format_duration(interval_seconds(every, period))}"
    except ValueError:
        return f"every: {every} {period}"


def summary(views: Sequence[View]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for v in views:
        counts[v.state] += 1
    return {"total": len(views), **counts}

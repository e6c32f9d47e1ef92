"""Which due times a schedule fires: pure decisions, the instant passed in (DESIGN §4).

An `Entry` is a table row turned into what the beat needs: the timetable, the message
options and the run-state baseline. `first_due` decides, when the beat (re)loads a row,
whether a missed due time fires and what comes next; `following` gives the due time after
one that was just dispatched. Nothing here reads a clock or touches I/O.

Rules:
* the baseline is the later of the last dispatched due time and the moment the schedule's
  timing last changed: a schedule changed by an apply starts afresh, and due times at or
  before the baseline are done (restart and failover never repeat them);
* missed due times (after the baseline, at or before now): `catchup: latest` fires the
  latest one if it is no older than `catchup_window` (default: one period, at most a day),
  `skip` fires none;
* nothing fires before `start_time` or after `expires`; a disabled row never fires;
* a one-off that has fired since its timing last changed never fires again. The beat does
  not flip `enabled` for it, so `syncd plan` never mistakes the beat's bookkeeping for a
  hand edit (documented in docs/beat.md);
* `jitter`: each due time is published at its *fire* time, due + the entry's `offset`
  (celeryapp.jitter). These functions speak of nominal due times; the caller asks them at
  `now - offset` (`shifted`), which puts every rule (on time, the tick tolerance, catchup,
  the window) on the fire time, while the baseline, start_time and the task id stay
  nominal. Expiry is judged at the fire time: nothing is published after `expires`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from celeryapp import codec, jitter, limits, tasklog
from celeryapp.schedules import CronTimetable, IntervalTimetable, ScheduleType, Timetable, to_utc

MAX_WINDOW = timedelta(days=1)
# The schema's rule for task names: the beat sends nothing else, whatever a row says.
TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_DEFAULTS = codec.DEFAULTS


class BadRow(ValueError):
    """A row the beat cannot schedule; logged with its name and skipped."""


@lru_cache(maxsize=4096)
def cron_timetable(expr: str, tz: str) -> CronTimetable:
    """The timetable of a cron in a zone; rows and files share a handful of pairs, so each
    is parsed once per process (validation asks for the same ones)."""
    return CronTimetable(expr, ZoneInfo(tz))


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _interval_timetable(every: int, anchor: datetime, tz: str) -> IntervalTimetable:
    """The timetable of an interval (a value): rows of the same timing share one, as they
    share cron timetables (a beat load builds one per row otherwise)."""
    return IntervalTimetable(every, anchor, _zone(tz))


@dataclass(slots=True)
class Entry:
    """A loaded schedule. A value: never changed after it is built (`replace` makes a new
    one); not declared frozen only because frozen dataclasses construct at half the
    speed, and loading 100 000 rows builds 100 000 of them."""

    name: str
    task: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    options: Mapping[str, Any]  # the message options the row sets (codec.message_options)
    headers: Mapping[str, Any]  # the schedule's own message headers (syncd's are added)
    timetable: Timetable
    every: int | None
    start_time: datetime | None
    expire_time: datetime | None
    expire_seconds: int | None
    one_off: bool
    enabled: bool
    catchup: str
    catchup_window: timedelta | None
    overlap: str
    baseline: datetime | None  # due times at or before this are done
    has_run: bool  # dispatched at least once since the timing last changed
    # Each due time is published this much later (celeryapp.jitter); zero without jitter.
    offset: timedelta = jitter.NO_OFFSET

    def fire_at(self, due: datetime) -> datetime:
        """When the beat publishes the run due at `due` (UTC)."""
        return to_utc(due) + self.offset

    def shifted(self, now: datetime) -> datetime:
        """The instant whose due times fire at `now`: what the rules below are asked at."""
        return to_utc(now) - self.offset if self.offset else now


def timetable(row: Mapping[str, Any], tz_name: str) -> tuple[Timetable, int | None]:
    """The row's timetable and, for an interval, its period in seconds (BadRow if none).

    An interval is anchored at `start_time`, else when its timing last changed."""
    if row.get("type") == ScheduleType.CRONTAB:
        expr = row.get("crontab")
        if not expr:
            raise BadRow("cron row without a crontab")
        try:
            return cron_timetable(expr, tz_name), None
        except ValueError as exc:
            raise BadRow(str(exc)) from exc
    if row.get("type") != ScheduleType.INTERVAL:
        raise BadRow(f"unknown schedule type {row.get('type')!r}")
    try:
        every = codec.interval_seconds(row.get("interval_every"), row.get("interval_period"))
    except ValueError as exc:
        raise BadRow(str(exc)) from exc
    if every < 1:
        raise BadRow(f"interval of {every}s is shorter than 1s (it would fire forever)")
    anchor = row.get("start_time") or row.get("schedule_changed_time") or row.get("created_time")
    if anchor is None:
        raise BadRow("interval row without start_time or created_time")
    return _interval_timetable(every, anchor, tz_name), every


def _check_payload(row: Mapping[str, Any]) -> None:
    args = row.get("args")
    kwargs = row.get("kwargs")
    if args is not None and not isinstance(args, list | tuple):
        raise BadRow(f"args must be a JSON array, got {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise BadRow(f"kwargs must be a JSON object, got {type(kwargs).__name__}")
    headers = row.get("headers")
    if headers is not None and not isinstance(headers, Mapping):
        raise BadRow(f"headers must be a JSON object, got {type(headers).__name__}")
    task = row.get("task")
    if not isinstance(task, str) or len(task) > limits.TASK_LENGTH or not TASK_NAME.match(task):
        raise BadRow(f"task name {task!r} is not a dotted Python name")


def entry_from_row(row: Mapping[str, Any], *, default_timezone: str) -> Entry:
    """Turn a row into an Entry; raise BadRow with a reason a person can act on.

    The columns are `codec.BEAT_COLUMNS`; unset ones take the field's default."""
    name = row.get("name") or "<unnamed>"
    try:
        tz_name = row.get("timezone") or default_timezone
        try:
            _zone(tz_name)
        except (KeyError, ValueError) as exc:
            raise BadRow(f"unknown timezone {tz_name!r}") from exc
        table, every = timetable(row, tz_name)
        _check_payload(row)
        changed = row.get("schedule_changed_time") or row.get("created_time")
        last = row.get("last_run_time")
        baseline = max((t for t in (last, changed) if t is not None), default=None)
        window = row.get("catchup_window")
        one_off, enabled = row.get("one_off"), row.get("enabled")
        return Entry(
            name=name,
            task=row["task"],
            args=tuple(row.get("args") or ()),
            kwargs=dict(row.get("kwargs") or {}),
            options=codec.message_options(row),
            headers=dict(row.get("headers") or {}),
            timetable=table,
            every=every,
            start_time=row.get("start_time"),
            expire_time=row.get("expire_time"),
            expire_seconds=row.get("expire_seconds"),
            one_off=bool(_DEFAULTS["one_off"] if one_off is None else one_off),
            enabled=bool(_DEFAULTS["enabled"] if enabled is None else enabled),
            catchup=row.get("catchup") or _DEFAULTS["catchup"],
            catchup_window=timedelta(seconds=window) if window else None,
            overlap=row.get("overlap") or _DEFAULTS["overlap"],
            baseline=baseline,
            # A due time at the very instant of a timing change belongs to the old timing
            # (the new one's first due time lies after it), so a run there is not this
            # version's: a one-off changed at that instant still fires once.
            has_run=last is not None and (changed is None or last > changed),
            offset=jitter.offset(name, row.get("jitter")),
        )
    except BadRow:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise BadRow(f"{type(exc).__name__}: {exc}") from exc


def _valid(entry: Entry, due: datetime) -> bool:
    if entry.start_time is not None and to_utc(due) < to_utc(entry.start_time):
        return False
    return entry.expire_time is None or entry.fire_at(due) <= to_utc(entry.expire_time)


def following(entry: Entry, after: datetime) -> datetime | None:
    """The first valid due time strictly after `after` (None: never again)."""
    if not entry.enabled or (entry.one_off and entry.has_run):
        return None
    cursor = after
    if entry.start_time is not None and to_utc(entry.start_time) > to_utc(cursor):
        cursor = entry.start_time - timedelta(microseconds=1)
    due = entry.timetable.next_after(cursor)
    if due is None or not _valid(entry, due):
        return None
    return due


def window(entry: Entry, missed: datetime) -> timedelta:
    if entry.catchup_window is not None:
        return entry.catchup_window
    if entry.every is not None:
        return min(timedelta(seconds=entry.every), MAX_WINDOW)
    nxt = entry.timetable.next_after(missed)
    period = (to_utc(nxt) - to_utc(missed)) if nxt is not None else MAX_WINDOW
    return min(period, MAX_WINDOW)


@dataclass(frozen=True)
class Decision:
    fire_now: datetime | None  # a missed (or exactly-now) due time to dispatch at once
    next_due: datetime | None  # the next due time after now
    # A missed due time `catchup` chose not to fire: judged, so never judged again (a
    # reload moments later, with the tick tolerance, would otherwise find it on time).
    passed: datetime | None = None


NO_GRACE = timedelta(0)


def first_due(entry: Entry, now: datetime, grace: timedelta = NO_GRACE) -> Decision:
    """On (re)load: fire a missed due time per `catchup`, and find the next one.

    A due time no more than `grace` old is on time, whatever `catchup` says: the beat's tick
    tolerance, so a tick that is a little late never counts as a missed run.
    """
    if not entry.enabled or (entry.one_off and entry.has_run):
        return Decision(None, None)
    fire: datetime | None = None
    passed: datetime | None = None
    latest = entry.timetable.latest_at_or_before(now)
    if (
        latest is not None
        and _valid(entry, latest)
        and (entry.baseline is None or to_utc(latest) > to_utc(entry.baseline))
    ):
        late = to_utc(now) - to_utc(latest)
        if late <= grace or (entry.catchup == "latest" and late <= window(entry, latest)):
            fire = latest
        else:
            passed = latest
    if entry.one_off and fire is not None:
        return Decision(fire, None)
    # Not before the baseline: with jitter `now` is shifted back, and may lie before an
    # apply that just changed the schedule, or a due time already out.
    after = now
    if entry.baseline is not None and to_utc(now) < to_utc(entry.baseline):
        after = entry.baseline
    return Decision(fire, following(entry, after), passed)


def pending_due(
    entry: Entry, pending: datetime, now: datetime, grace: timedelta = NO_GRACE
) -> Decision:
    """A running beat's pending due time has come (`pending` <= `now`).

    It goes out if it is on time: the latest due time so far and no more than `grace` late.
    Otherwise the beat fell behind (stalled, paused, a slow tick) and the due times since
    the last one dispatched are missed runs, decided by `catchup` as after a restart: a
    stall never ends in a burst of every due time it covered, nor in a stale run.
    """
    later = following(entry, pending)
    if (later is None or to_utc(later) > to_utc(now)) and to_utc(now) - to_utc(pending) <= grace:
        return Decision(pending, later)
    return first_due(entry, now, grace)


def retry_due(
    entry: Entry, failed: datetime, now: datetime, grace: timedelta = NO_GRACE
) -> Decision:
    """A due time whose publish failed (broker down), tried again at `now`.

    While no later due time has passed it is merely late and goes out as it is. Once one
    has, the runs since are missed runs like those of a beat that was down, and `catchup`
    decides: a broker outage must not end in a burst of every due time it covered.
    """
    later = following(entry, failed)
    if later is None or to_utc(later) > to_utc(now):
        return Decision(failed, later)
    return first_due(entry, now, grace)


def message_expiry(entry: Entry, due: datetime) -> datetime | None:
    """The message's expiry: the earlier of `expires` and fire time + `expire_seconds` (the
    fire time is the due time without jitter)."""
    candidates = []
    if entry.expire_time is not None:
        candidates.append(to_utc(entry.expire_time))
    if entry.expire_seconds is not None:
        candidates.append(entry.fire_at(due) + timedelta(seconds=entry.expire_seconds))
    return min(candidates) if candidates else None


@dataclass(frozen=True, slots=True)
class Message:
    """What goes to the broker for one run: `send_task(task, args, kwargs, task_id,
    headers, **options)`."""

    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    task_id: str
    options: dict[str, Any]
    headers: dict[str, Any]


def message(
    entry: Entry, due: datetime, *, task_id: str, manual: bool = False, beat: str | None = None
) -> Message:
    """The message of one run of `entry` due at `due` (a manual trigger: due is now)."""
    options = dict(entry.options)
    expires = message_expiry(entry, due)
    if expires is not None:
        options["expires"] = expires
    # syncd's headers last: the once-only and overlap checks read them, and a row written
    # by other means must not be able to change what they say.
    headers = {
        **entry.headers,
        **tasklog.headers(entry.name, entry.overlap, due=None if manual else due, beat=beat),
    }
    if entry.offset and not manual:
        headers[tasklog.HEADER_FIRE] = tasklog.format_fire(entry.fire_at(due))
    return Message(entry.task, list(entry.args), dict(entry.kwargs), task_id, options, headers)

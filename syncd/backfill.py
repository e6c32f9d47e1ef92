"""`syncd backfill NAME --from T [--to T]`: fire the due times of a past range, once each.

For the runs a schedule should have had and did not (it was created late, a downstream
system was down, a bug made the task a no-op): every due time of the range, oldest first,
is claimed in the dispatch ledger exactly as the beat claims it, and sent only when the
claim is won, under the beat's own task id `NAME@DUE` and headers. A due time the beat
(or an earlier backfill) already dispatched is skipped, and the worker's once-only check
stands behind the ledger, so a backfill never repeats a run, even run twice or beside a
leading beat.

Choices (docs/decisions.md):
* the range is in the past (`--to` at most now): future due times are the beat's;
* it may not start before the ledger's retention (SYNCD_LEDGER_RETENTION_DAYS), where the
  ledger can no longer say what was dispatched, unless `--beyond-retention` says so;
* at most `--max` due times (default 1000): a wrong range is refused, not sent;
* sent at `--rate` per second (default 10), so a backfill does not become the herd;
* a message's `expire_seconds` counts from when the backfill sends it (counted from a
  due time in the past, every message would arrive expired);
* a disabled or paused schedule can be backfilled: it is an operator's explicit act, and
  the report says so.

`due_times` and `Backfill.run` are pure given their ports (claim, send, record, clock,
sleep); `run_backfill` wires them to the ledger and the broker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celeryapp import pausing
from celeryapp.dueplan import Entry, Message, message
from celeryapp.redact import redact_url
from celeryapp.schedules import format_due, task_id, to_utc
from celeryapp.settings import Settings
from syncd.defaults import BACKFILL_RATE
from syncd.errors import EXIT_OK, ServiceUnavailable, UsageError


def due_times(entry: Entry, start: datetime, end: datetime, *, limit: int) -> list[datetime]:
    """The schedule's due times in [start, end], oldest first, by its own timetable (not
    its run state: a backfill asks what was due, not what the beat sent), within its
    start_time and expiry; at most `limit` + 1, so a caller can tell "more than limit"."""
    out: list[datetime] = []
    floor = to_utc(start)
    if entry.start_time is not None:
        floor = max(floor, to_utc(entry.start_time))
    ceiling = to_utc(end)
    if entry.expire_time is not None:
        ceiling = min(ceiling, to_utc(entry.expire_time))
    due = entry.timetable.next_after(floor - timedelta(microseconds=1))
    while due is not None and to_utc(due) <= ceiling and len(out) <= limit:
        out.append(to_utc(due))
        due = entry.timetable.next_after(due)
    return out


def backfill_message(entry: Entry, due: datetime, now: datetime) -> Message:
    """The beat's message for `due`, with a relative expiry counted from `now`."""
    msg = message(entry, due, task_id=task_id(entry.name, due))
    options = {k: v for k, v in msg.options.items() if k != "expires"}
    if entry.expire_seconds is not None:
        options["expires"] = now + timedelta(seconds=entry.expire_seconds)
    return Message(msg.task, msg.args, msg.kwargs, msg.task_id, options, msg.headers)


@dataclass
class Report:
    schedule: str
    start: datetime
    end: datetime
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # task ids already in the ledger
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "from": format_due(self.start),
            "to": format_due(self.end),
            "dry_run": self.dry_run,
            "sent": self.sent,
            "already_dispatched": self.skipped,
            "warnings": self.warnings,
        }


Claim = Callable[[str, datetime, str], bool]  # (name, due, task id) -> won
Send = Callable[[Message], None]
Record = Callable[[str, datetime], None]  # mark published and count the run
Release = Callable[[str, datetime], None]


@dataclass
class Backfill:
    """One backfill's sequence: claim, send, record, paced at `rate` per second."""

    claim: Claim
    send: Send
    record: Record
    release: Release
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    rate: float = BACKFILL_RATE
    monotonic: Callable[[], float] = time.monotonic

    def run(self, entry: Entry, dues: Sequence[datetime], report: Report) -> Report:
        started = self.monotonic()
        for i, due in enumerate(dues):
            if self.rate > 0:
                wait = started + i / self.rate - self.monotonic()
                if wait > 0:
                    self.sleep(wait)
            tid = task_id(entry.name, due)
            if not self.claim(entry.name, due, tid):
                report.skipped.append(tid)
                continue
            try:
                self.send(backfill_message(entry, due, self.clock()))
            except Exception as exc:
                # Not on the broker: give the claim back so a later backfill (or the beat,
                # for a due time it still owns) can send it.
                self.release(entry.name, due)
                raise ServiceUnavailable(
                    f"sending {tid} failed ({exc.__class__.__name__}: {exc}); "
                    f"{len(report.sent)} sent before it, nothing after"
                ) from exc
            self.record(entry.name, due)
            report.sent.append(tid)
        return report


def check_range(
    start: datetime, end: datetime, now: datetime, *, retention_days: int, beyond: bool
) -> None:
    """UsageError unless [start, end] is a past range inside the ledger's retention."""
    if end > now:
        raise UsageError(
            f"--to {format_due(end)} is in the future; a backfill fires past due times "
            "(the beat fires the future ones); leave --to out to mean now"
        )
    if start > end:
        raise UsageError(f"--from {format_due(start)} is after --to {format_due(end)}")
    horizon = now - timedelta(days=retention_days)
    if start < horizon and not beyond:
        raise UsageError(
            f"--from {format_due(start)} is older than the dispatch ledger keeps "
            f"({retention_days} days, SYNCD_LEDGER_RETENTION_DAYS): syncd cannot tell which "
            "of those runs were already sent. Pass --beyond-retention to send them anyway"
        )


def status_warnings(entry: Entry, pause: dict[str, Any] | None, now: datetime) -> list[str]:
    warnings = []
    if not entry.enabled:
        warnings.append(f"schedule {entry.name!r} is disabled; backfilling it because you asked")
    if pause is not None and pausing.holds(pause.get("until_time"), now):
        warnings.append(
            f"schedule {entry.name!r} is paused ({pause.get('reason')}); backfilling it "
            "because you asked"
        )
    return warnings


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.as_json(), indent=2)
    verb = "would send" if report.dry_run else "sent"
    summary = (
        f"{report.schedule}: {verb} {len(report.sent)}, already dispatched "
        f"{len(report.skipped)} of the due times from {format_due(report.start)} "
        f"to {format_due(report.end)}"
    )
    if fmt == "github":
        return f"::notice title=syncd backfill {report.schedule}::{summary}"
    if fmt == "markdown":
        rows = [f"- {verb} `{tid}`" for tid in report.sent]
        rows += [f"- already dispatched `{tid}`" for tid in report.skipped]
        return "\n".join([f"### syncd backfill `{report.schedule}`", "", *rows, "", summary])
    lines = [f"{verb} {tid}" for tid in report.sent]
    lines += [f"already dispatched {tid}" for tid in report.skipped]
    lines.append(summary)
    return "\n".join(lines)


def run_backfill(
    settings: Settings,
    name: str,
    start: datetime,
    end: datetime | None,
    *,
    rate: float,
    limit: int,
    beyond_retention: bool,
    dry_run: bool,
    actor: str,
    out: Callable[[str], None],
    err: Callable[[str], None],
    fmt: str,
) -> int:
    """The body of `syncd backfill`; raises SyncdError subclasses for the CLI to map."""
    from syncd import store
    from syncd.trigger import load_target

    now = datetime.now(UTC)
    end = end or now
    check_range(
        start, end, now, retention_days=settings.ledger_retention_days, beyond=beyond_retention
    )
    entry = load_target(settings, name)
    dues = due_times(entry, start, end, limit=limit)
    if len(dues) > limit:
        raise UsageError(
            f"more than {limit} due times of {name!r} from {format_due(start)} to "
            f"{format_due(end)}; narrow the range or raise --max"
        )
    with store.connect(settings.database_url) as conn:
        pause = store.pauses(conn).get(name)
    report = Report(name, start, end, warnings=status_warnings(entry, pause, now))
    for warning in report.warnings:
        err(f"warning: {warning}")
    if dry_run:
        with store.connect(settings.database_url) as conn:
            known = store.claimed_dues(conn, name, dues)
        report.dry_run = True
        for due in dues:
            tid = task_id(name, due)
            (report.skipped if due in known else report.sent).append(tid)
        out(render(report, fmt))
        return EXIT_OK

    from celeryapp.app import make_app

    app = make_app(settings)
    holder = f"backfill:{actor}"

    def claim(schedule: str, due: datetime, tid: str) -> bool:
        with store.connect(settings.database_url) as conn, conn.begin():
            return store.claim_run(conn, schedule, due, tid, holder=holder, now=datetime.now(UTC))

    def send(msg: Message) -> None:
        app.send_task(
            msg.task,
            args=msg.args,
            kwargs=msg.kwargs,
            task_id=msg.task_id,
            headers=msg.headers,
            retry=False,
            **msg.options,
        )

    def record(schedule: str, due: datetime) -> None:
        with store.connect(settings.database_url) as conn, conn.begin():
            store.record_sent(conn, schedule, due, when=datetime.now(UTC))

    def release(schedule: str, due: datetime) -> None:
        try:
            with store.connect(settings.database_url) as conn, conn.begin():
                store.release_claim(conn, schedule, due)
        except (ServiceUnavailable, store.DatabaseError) as exc:
            err(f"warning: the claim of {task_id(schedule, due)} could not be given back: {exc}")

    try:
        Backfill(claim, send, record, release, lambda: datetime.now(UTC), time.sleep, rate).run(
            entry, dues, report
        )
    except store.DatabaseError as exc:
        raise ServiceUnavailable(
            f"the dispatch ledger at {redact_url(settings.database_url)} failed: "
            f"{exc.__class__.__name__}; {len(report.sent)} sent before it"
        ) from exc
    finally:
        app.close()
    out(render(report, fmt))
    return EXIT_OK

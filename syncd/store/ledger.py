"""The dispatch ledger as the sync side uses it (`syncd backfill`): the same claims, marks
and run counts as the beat, through the run side's statements (celeryapp.runstore), so a
due time has one once-only rule however it is sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, case, select, update

from celeryapp import runstore
from celeryapp.models import DispatchLedger, TaskSchedule

ledger = cast(Table, DispatchLedger.__table__)
schedules = cast(Table, TaskSchedule.__table__)


def claim_run(
    conn: Connection, name: str, due: datetime, task_id: str, *, holder: str, now: datetime
) -> bool:
    """Claim one (schedule, due time); True when this call won it."""
    return bool(runstore.claim(conn, [(name, due, task_id)], holder=holder, now=now))


def record_sent(conn: Connection, name: str, due: datetime, *, when: datetime) -> None:
    """The run is on the broker: mark its claim published and count it on the schedule."""
    runstore.mark_published(conn, [(name, due)], when=when)
    # Not the beat's run-state write: that one counts only runs newer than the last, and a
    # backfill sends older ones, in any order when two race.
    s = schedules
    conn.execute(
        update(s)
        .where(s.c.name == name)
        .values(
            total_run_count=s.c.total_run_count + 1,
            last_run_time=case(
                (s.c.last_run_time.is_(None) | (s.c.last_run_time < due), due),
                else_=s.c.last_run_time,
            ),
            updated_time=s.c.updated_time,  # a run is not an edit of the schedule
        )
    )


def release_claim(conn: Connection, name: str, due: datetime) -> None:
    runstore.release(conn, [(name, due)])


def claimed_dues(conn: Connection, name: str, dues: Sequence[datetime]) -> set[datetime]:
    """Which of these due times of `name` the ledger already holds."""
    if not dues:
        return set()
    rows = conn.execute(
        select(ledger.c.due_time)
        .where(ledger.c.schedule_name == name)
        .where(ledger.c.due_time >= min(dues))
        .where(ledger.c.due_time <= max(dues))
    )
    held = {d.astimezone(UTC) for (d,) in rows}
    return {d for d in dues if d in held}

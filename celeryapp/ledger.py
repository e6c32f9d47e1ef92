"""The dispatch ledger: each (schedule, due time) is claimed once before it is published.

Safety must not rest on the beat lock alone (a stalled leader can outlive its TTL): a due
time is published only by the beat whose `INSERT ... ON CONFLICT DO NOTHING RETURNING`
claimed it, in one statement per tick. The lock buys liveness and efficiency; the ledger
buys safety. A claim is not a send: `published_time` is set once the message is on the
broker, and a claim left without it (its beat crashed in between) is republished by the
next leader. Rows are pruned by age.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from celeryapp.models import DispatchLedger, Execution

ledger = cast(Table, DispatchLedger.__table__)
executions = cast(Table, Execution.__table__)
# SQLite allows 32766 bound parameters per statement; 4 per row.
_CHUNK = 2000


def _insert(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(ledger)


def claim(
    conn: Connection,
    dues: Sequence[tuple[str, datetime, str]],
    *,
    holder: str,
    now: datetime,
) -> set[tuple[str, datetime]]:
    """Claim (name, due, task_id) triples; return the (name, due) pairs this call won."""
    if conn.dialect.name == "postgresql" and dues:
        # One statement whatever the batch size: three array parameters, unnested.
        rows = conn.exec_driver_sql(
            f"INSERT INTO {ledger.name} (schedule_name, due_time, task_id, claimed_time, "  # noqa: S608 - table name from our model
            "claimed_by) SELECT n, d, t, %(now)s, %(holder)s FROM unnest(%(names)s::text[], "
            "%(dues)s::timestamptz[], %(tids)s::text[]) AS u(n, d, t) "
            "ON CONFLICT (schedule_name, due_time) DO NOTHING "
            "RETURNING schedule_name, due_time",
            {
                "now": now,
                "holder": holder,
                "names": [n for n, _, _ in dues],
                "dues": [d for _, d, _ in dues],
                "tids": [t for _, _, t in dues],
            },
        )
        return {(name, due.astimezone(UTC)) for name, due in rows}
    won: set[tuple[str, datetime]] = set()
    for start in range(0, len(dues), _CHUNK):
        chunk = dues[start : start + _CHUNK]
        stmt = (
            _insert(conn)
            .values(
                [
                    {
                        "schedule_name": n,
                        "due_time": d,
                        "task_id": t,
                        "claimed_time": now,
                        "claimed_by": holder,
                    }
                    for n, d, t in chunk
                ]
            )
            .on_conflict_do_nothing(index_elements=["schedule_name", "due_time"])
            .returning(ledger.c.schedule_name, ledger.c.due_time)
        )
        won.update((row[0], row[1]) for row in conn.execute(stmt))
    return won


def mark_published(
    conn: Connection, pairs: Sequence[tuple[str, datetime]], *, when: datetime
) -> None:
    """Record that these claimed runs are on the broker."""
    if not pairs:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"UPDATE {ledger.name} AS l SET published_time = %(when)s "  # noqa: S608 - table name from our model
            "FROM unnest(%(names)s::text[], %(dues)s::timestamptz[]) AS u(n, d) "
            "WHERE l.schedule_name = u.n AND l.due_time = u.d",
            {"when": when, "names": [n for n, _ in pairs], "dues": [d for _, d in pairs]},
        )
        return
    conn.execute(
        update(ledger)
        .where(ledger.c.schedule_name == bindparam("b_name"))
        .where(ledger.c.due_time == bindparam("b_due"))
        .values(published_time=when),
        [{"b_name": n, "b_due": d} for n, d in pairs],
    )


def unpublished(
    conn: Connection, *, claimed_before: datetime, since: datetime
) -> list[tuple[str, datetime]]:
    """Claims made in [since, claimed_before) and never published, oldest first."""
    rows = conn.execute(
        select(ledger.c.schedule_name, ledger.c.due_time)
        .where(ledger.c.published_time.is_(None))
        .where(ledger.c.claimed_time < claimed_before)
        .where(ledger.c.claimed_time >= since)
        .order_by(ledger.c.due_time)
    )
    return [(name, due.astimezone(UTC)) for name, due in rows]


def release(conn: Connection, pairs: Iterable[tuple[str, datetime]]) -> None:
    """Give back claims whose publish failed, so the next tick can claim them again."""
    pairs = list(pairs)
    if pairs:
        conn.execute(
            delete(ledger).where(tuple_(ledger.c.schedule_name, ledger.c.due_time).in_(pairs))
        )


def prune(conn: Connection, *, now: datetime, retention: timedelta) -> int:
    result = conn.execute(delete(ledger).where(ledger.c.claimed_time < now - retention))
    return int(result.rowcount or 0)


def prune_executions(conn: Connection, *, before: datetime) -> int:
    """Forget worker execution marks (the once-only key without Redis) older than `before`."""
    result = conn.execute(delete(executions).where(executions.c.started_time < before))
    return int(result.rowcount or 0)

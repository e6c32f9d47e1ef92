"""What `syncd list`, `syncd show` and the page read about runs: the recent dispatches of
each schedule (the dispatch ledger), their results when the result backend is a database
(Celery's `celery_taskmeta`, read by task id in batches), and the revisions that named a
schedule. Every read of a table that may not exist yet answers "nothing"."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    DateTime,
    String,
    Table,
    Text,
    column,
    func,
    inspect,
    select,
    table,
)
from sqlalchemy import cast as sql_cast

from celeryapp.models import DispatchLedger
from syncd.store.reads import revisions

ledger = cast(Table, DispatchLedger.__table__)
# Celery's database backend owns this table (not ours to migrate): only the columns read.
_results = table(
    "celery_taskmeta",
    column("task_id", String),
    column("status", String),
    column("date_done", DateTime),
    column("worker", String),
    column("traceback", Text),
)
# Bound parameters per statement stay far below SQLite's limit (32 766).
_CHUNK = 2000


class Dispatch(NamedTuple):
    """One claimed run: its due time, task id, and when it reached the broker (None: not yet,
    or lost by a beat that crashed between claim and publish)."""

    due: datetime
    task_id: str
    published: datetime | None


def recent_dispatches(
    conn: Connection, *, per_schedule: int, names: Collection[str] | None = None
) -> dict[str, list[Dispatch]]:
    """The latest `per_schedule` dispatches of every schedule (or of `names`), newest first."""
    if not inspect(conn).has_table(ledger.name):
        return {}
    rank = (
        func.row_number()
        .over(partition_by=ledger.c.schedule_name, order_by=ledger.c.due_time.desc())
        .label("rank")
    )
    ranked = select(
        ledger.c.schedule_name, ledger.c.due_time, ledger.c.task_id, ledger.c.published_time, rank
    )
    if names is not None:
        ranked = ranked.where(ledger.c.schedule_name.in_(sorted(names)))
    inner = ranked.subquery()
    stmt = (
        select(inner.c.schedule_name, inner.c.due_time, inner.c.task_id, inner.c.published_time)
        .where(inner.c.rank <= per_schedule)
        .order_by(inner.c.schedule_name, inner.c.due_time.desc())
    )
    out: dict[str, list[Dispatch]] = {}
    for name, due, task_id, published in conn.execute(stmt):
        out.setdefault(name, []).append(Dispatch(due, task_id, published))
    return out


def result_rows(conn: Connection, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Celery's stored results of these task ids: status, date_done, worker, traceback."""
    if not task_ids or not inspect(conn).has_table("celery_taskmeta"):
        return {}
    names = {c["name"] for c in inspect(conn).get_columns("celery_taskmeta")}
    wanted = [c for c in _results.c if c.name in names]
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(task_ids), _CHUNK):
        chunk = list(task_ids[start : start + _CHUNK])
        stmt = select(*wanted).where(_results.c.task_id.in_(chunk))
        for record in conn.execute(stmt).mappings():
            out[record["task_id"]] = dict(record)
    return out


def revisions_naming(conn: Connection, name: str, *, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` revisions whose changed names hold `name`, newest first."""
    if not inspect(conn).has_table(revisions.name):
        return []
    # A text match narrows the rows in the database on every dialect (json containment is
    # PostgreSQL's alone); the exact test is below. Names hold no quote or backslash.
    pattern = '%"' + name.replace("%", r"\%").replace("_", r"\_") + '"%'
    columns = [c for c in revisions.c if c.name != "changes"]
    stmt = (
        select(*columns)
        .where(sql_cast(revisions.c.changed_names, Text).like(pattern, escape="\\"))
        .order_by(revisions.c.id.desc())
    )
    found: list[dict[str, Any]] = []
    for record in conn.execute(stmt).mappings():
        if name in (record["changed_names"] or []):
            found.append(dict(record))
            if len(found) == limit:
                break
    return found

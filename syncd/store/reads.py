"""What the sync side reads: plan input (rows and the file manifest), revisions, single
schedules for `next` and `trigger`, the beat lease and finished runs for `status` and the
demo. Every read of a table that may not exist yet answers "nothing" instead of failing."""

from __future__ import annotations

from types import EllipsisType
from typing import Any, cast

from sqlalchemy import Connection, Table, func, inspect, select, text

from celeryapp.models import BeatLease, Pause, Revision, SourceManifest, TaskSchedule
from syncd.plan import Row
from syncd.spec import SCHEDULE_COLUMNS

table = cast(Table, TaskSchedule.__table__)
revisions = cast(Table, Revision.__table__)
manifest = cast(Table, SourceManifest.__table__)
leases = cast(Table, BeatLease.__table__)
pause_table = cast(Table, Pause.__table__)
_SNAPSHOT_COLUMNS = [
    table.c.id,
    table.c.managed,
    table.c.source,
    table.c.source_hash,
    table.c.row_hash,
    table.c.scope,
    *(table.c[name] for name in SCHEDULE_COLUMNS),
]
# The result backend's table (Celery's database backend names it; not ours to migrate).
_RESULTS_TABLE = "celery_taskmeta"
_FINISHED_RUNS = text(
    "SELECT task_id, name, status, result, date_done FROM celery_taskmeta "
    "WHERE status IN ('SUCCESS', 'FAILURE') ORDER BY date_done"
)


def _has(conn: Connection, name: str) -> bool:
    return bool(inspect(conn).has_table(name))


def has_schema(conn: Connection) -> bool:
    return _has(conn, table.name)


def current_revision(conn: Connection) -> int | None:
    if not _has(conn, revisions.name):
        return None
    value = conn.execute(select(func.max(revisions.c.id))).scalar()
    return int(value) if value is not None else None


def snapshot(conn: Connection) -> list[Row]:
    """Every row of the schedule table, as plan input (empty when there is no table yet)."""
    if not has_schema(conn):
        return []
    # One fetch of all rows (iterating the result fetches them one at a time), and the
    # schedule columns zipped by position: this runs for every row on every plan.
    records = conn.execute(select(*_SNAPSHOT_COLUMNS)).all()
    return [
        Row(
            id=record[0],
            columns=dict(zip(SCHEDULE_COLUMNS, record[6:], strict=True)),
            managed=bool(record[1]),
            source=record[2],
            source_hash=record[3],
            row_hash=record[4],
            scope=record[5],
        )
        for record in records
    ]


def drifted_names(conn: Connection, scope: str | EllipsisType | None = ...) -> list[str]:
    """Managed rows edited by hand: of one scope (None: the default scope), or of all."""
    return sorted(
        r.name for r in snapshot(conn) if r.drifted and (scope is ... or r.scope == scope)
    )


def read_manifest(conn: Connection) -> dict[tuple[str | None, str], tuple[str, list[str]]]:
    """(scope, path) -> (source hash, names) of the files the last apply of each scope read
    (the default scope is None here, the empty string in the table)."""
    if not _has(conn, manifest.name):
        return {}
    stmt = select(manifest.c.scope, manifest.c.path, manifest.c.source_hash, manifest.c.names)
    return {
        (r.scope or None, r.path): (r.source_hash, list(r.names or [])) for r in conn.execute(stmt)
    }


def latest_revision_row(conn: Connection) -> dict[str, Any] | None:
    if not _has(conn, revisions.name):
        return None
    record = (
        conn.execute(select(revisions).order_by(revisions.c.id.desc()).limit(1)).mappings().first()
    )
    return dict(record) if record else None


def revision_row(conn: Connection, revision: int) -> dict[str, Any] | None:
    if not _has(conn, revisions.name):
        return None
    record = conn.execute(select(revisions).where(revisions.c.id == revision)).mappings().first()
    return dict(record) if record else None


def revision_rows(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` revisions, newest first, without their changes (`syncd history`)."""
    if not _has(conn, revisions.name):
        return []
    columns = [c for c in revisions.c if c.name != "changes"]
    stmt = select(*columns).order_by(revisions.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def revisions_after(conn: Connection, revision: int) -> list[dict[str, Any]]:
    """Every revision after `revision`, newest first, with its changes (`syncd rollback`)."""
    if not _has(conn, revisions.name):
        return []
    stmt = select(revisions).where(revisions.c.id > revision).order_by(revisions.c.id.desc())
    return [dict(r) for r in conn.execute(stmt).mappings()]


def schedule_row(conn: Connection, name: str) -> dict[str, Any] | None:
    """One schedule row by name, every column (None: no such row, or no table yet)."""
    if not has_schema(conn):
        return None
    record = conn.execute(select(table).where(table.c.name == name)).mappings().first()
    return dict(record) if record else None


def schedule_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every schedule row, every column (for `syncd next --load`)."""
    if not has_schema(conn):
        return []
    return [dict(r) for r in conn.execute(select(table)).mappings()]


# What `list` and the page need of each row: no args, kwargs or headers (decoding their
# json was a third of reading 10 000 rows) and no hashes.
_OVERVIEW_COLUMNS = [
    table.c[name]
    for name in (
        "name", "task", "type", "crontab", "interval_every", "interval_period", "timezone",
        "enabled", "managed", "source", "created_time", "schedule_changed_time",
        "last_run_time", "total_run_count", "start_time", "expire_time", "expire_seconds",
        "one_off", "catchup", "catchup_window", "overlap", "scope",
    )
]  # fmt: skip


def overview_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every schedule row, the columns `syncd list` shows (one fetch, zipped by position)."""
    if not has_schema(conn):
        return []
    keys = [c.name for c in _OVERVIEW_COLUMNS]
    return [dict(zip(keys, r, strict=True)) for r in conn.execute(select(*_OVERVIEW_COLUMNS)).all()]


def schedule_names(conn: Connection) -> list[str]:
    """Every schedule name in the table (for "did you mean")."""
    if not has_schema(conn):
        return []
    return list(conn.execute(select(table.c.name)).scalars())


def beat_lease(conn: Connection) -> dict[str, Any] | None:
    """The database lease row of the beat lock (used when there is no Redis)."""
    if not _has(conn, leases.name):
        return None
    record = conn.execute(select(leases)).mappings().first()
    return dict(record) if record else None


def finished_runs(conn: Connection) -> list[tuple[Any, ...]]:
    """(task_id, name, status, result, date_done) of finished runs in the result backend."""
    if not _has(conn, _RESULTS_TABLE):
        return []
    return [tuple(r) for r in conn.execute(_FINISHED_RUNS).all()]


def pauses(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every pause row by schedule name: reason, actor, paused_time, until_time. Rows whose
    `until_time` has passed are returned too; whether a pause holds is the caller's
    judgement at its own `now` (celeryapp.pausing.holds)."""
    if not _has(conn, pause_table.name):
        return {}
    return {r["name"]: dict(r) for r in conn.execute(select(pause_table)).mappings()}

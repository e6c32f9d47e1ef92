"""What an apply writes, inside the caller's transaction (`transaction.write_transaction`):
the revision row, the schedule rows (creates, updates, deletes, refreshed provenance) and
the file manifest. Every function takes data and a connection; none calls back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, bindparam, delete, insert, update

from celeryapp.models import MANIFEST_PATH_LENGTH, MYSQL_DIALECTS, MYSQL_KEY_CHARS
from celeryapp.shards import shard_key
from syncd.plan import Plan
from syncd.spec import Schedule, row_hash, row_values
from syncd.store.reads import manifest, read_manifest, revisions, table

# Below this many new rows executemany is as fast as COPY.
_COPY_FROM = 50


@dataclass(frozen=True)
class RevisionInfo:
    """What the revision row records besides the plan: when, who, and from which commit."""

    now: datetime
    actor: str | None
    git_commit: str | None = None
    git_author: str | None = None
    git_subject: str | None = None
    kind: str | None = None  # None: an apply; "rollback", "pause", "resume"
    note: str | None = None  # "rollback to revision 7"
    scope: str | None = None  # the apply's scope (None: the default scope)


def write_plan(
    conn: Connection,
    plan: Plan,
    info: RevisionInfo,
    changes_json: Sequence[dict[str, Any]],
) -> int | None:
    """Write a plan inside the caller's transaction; return the revision (None: no-op)."""
    if plan.scope is not None:
        info = replace(info, scope=plan.scope)
    revision = _write_revision(conn, plan, info, changes_json) if plan.changes else None
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[int] = []
    for change in plan.changes:
        if change.action == "delete":
            assert change.row_id is not None
            deletes.append(change.row_id)
            continue
        assert change.schedule is not None
        record = _record(change.schedule, revision)
        record["scope"] = plan.scope
        if change.action == "create":
            creates.append(
                {**record, "created_time": info.now, "schedule_changed_time": info.now,
                 "total_run_count": 0}
            )  # fmt: skip
        else:
            record["updated_time"] = info.now
            record["_id"] = change.row_id
            record["_changed"] = info.now if change.timing_changed else None
            updates.append(record)
    if deletes:
        conn.execute(delete(table).where(table.c.id.in_(deletes)))
    if creates:
        _insert_rows(conn, creates)
    _update_rows(conn, updates)
    _refresh_rows(conn, plan.refresh)
    return revision


def _write_revision(
    conn: Connection, plan: Plan, info: RevisionInfo, changes_json: Sequence[dict[str, Any]]
) -> int:
    return insert_revision(conn, info, plan.changed_names, plan.summary(), changes_json)


def insert_revision(
    conn: Connection,
    info: RevisionInfo,
    changed_names: Sequence[str],
    summary: Mapping[str, int],
    changes_json: Sequence[dict[str, Any]],
) -> int:
    """One revision row (an apply, a rollback, a pause or a resume); its number.

    MySQL 8 has no INSERT ... RETURNING (MariaDB from 10.5): on the MySQL family the number
    is the connection's last insert id, which no other session's insert can move."""
    stmt = insert(revisions).values(
        created_time=info.now,
        git_commit=info.git_commit,
        git_author=info.git_author,
        git_subject=info.git_subject,
        actor=info.actor,
        changed_names=list(changed_names),
        summary=dict(summary),
        changes=list(changes_json),
        kind=info.kind,
        note=info.note,
        scope=info.scope,
    )
    if conn.dialect.name in MYSQL_DIALECTS:
        key = conn.execute(stmt).inserted_primary_key
        assert key is not None
        return int(key[0])
    return int(conn.execute(stmt.returning(revisions.c.id)).scalar_one())


def _bookkeeping(schedule: Schedule) -> dict[str, Any]:
    src = schedule.source
    return {
        "source": f"{src.path}:{src.line}" if src is not None else None,
        "source_hash": schedule.source_hash,
    }


def _record(schedule: Schedule, revision: int | None) -> dict[str, Any]:
    values = row_values(schedule)
    return {
        **values,
        **_bookkeeping(schedule),
        "row_hash": row_hash(values),
        "managed": True,
        "revision": revision,
        # Written on every update too: a row an older syncd wrote without it gains it.
        "shard_key": shard_key(schedule.name),
    }


def _update_rows(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """Updates in two executemany batches: those whose timing changed also move
    `schedule_changed_time` (the interval anchor), the others keep it."""
    timing = [u for u in updates if u["_changed"] is not None]
    other = [u for u in updates if u["_changed"] is None]
    for batch, moves_anchor in ((timing, True), (other, False)):
        if not batch:
            continue
        keys = [k for k in batch[0] if not k.startswith("_")]
        values_map: dict[str, Any] = {k: bindparam(f"v_{k}") for k in keys}
        if moves_anchor:
            values_map["schedule_changed_time"] = bindparam("v_changed")
        stmt = update(table).where(table.c.id == bindparam("v_id")).values(values_map)
        params = []
        for u in batch:
            p = {**{f"v_{k}": u[k] for k in keys}, "v_id": u["_id"]}
            if moves_anchor:
                p["v_changed"] = u["_changed"]
            params.append(p)
        conn.execute(stmt, params)


def _refresh_rows(conn: Connection, refresh: Sequence[Schedule]) -> None:
    """Schedules that only moved (another line or file): their provenance, silently."""
    if not refresh:
        return
    stmt = (
        update(table)
        .where(table.c.name == bindparam("v_name"))
        .values(
            source=bindparam("v_source"),
            source_hash=bindparam("v_source_hash"),
            row_hash=bindparam("v_row_hash"),
            managed=True,
        )
    )
    params = []
    for schedule in refresh:
        book = _bookkeeping(schedule)
        params.append(
            {
                "v_name": schedule.name,
                "v_source": book["source"],
                "v_source_hash": book["source_hash"],
                "v_row_hash": row_hash(row_values(schedule)),
            }
        )
    conn.execute(stmt, params)


def _insert_rows(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Insert new rows: COPY on PostgreSQL (as fast as the floor), executemany elsewhere.
    A record without a `shard_key` (not made by `_record`) gets its name's."""
    records = [r if "shard_key" in r else {**r, "shard_key": shard_key(r["name"])} for r in records]
    if conn.dialect.name != "postgresql" or len(records) < _COPY_FROM:
        conn.execute(insert(table), records)
        return
    from psycopg import sql

    columns = [c for c in table.c if c.name != "id"]
    # Per column, once: its name, whether it holds JSON, and the value when a record lacks it.
    plan = [(c.name, isinstance(c.type, JSON), _default(c)) for c in columns]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    )
    dumps = json.dumps
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(copy_sql) as copy:
        write = copy.write_row
        for record in records:
            row = []
            for name, is_json, default in plan:
                value = record.get(name, default)
                row.append(dumps(value) if is_json and value is not None else value)
            write(row)


def _default(column: Any) -> Any:
    default = column.default
    if default is None or not getattr(default, "is_scalar", False):
        return None
    return default.arg


def write_manifest(
    conn: Connection, files: Mapping[str, tuple[str, list[str]]], scope: str | None = None
) -> None:
    """Replace one scope's file manifest (path -> source hash, names) when it changed;
    other scopes' entries stay (their paths may be the same).

    The manifest only saves re-reading unchanged files: a path longer than the key column
    holds (MYSQL_KEY_CHARS on MySQL/MariaDB) is left out, and that file is read every time."""
    longest = MYSQL_KEY_CHARS if conn.dialect.name in MYSQL_DIALECTS else MANIFEST_PATH_LENGTH
    files = {p: entry for p, entry in files.items() if len(p) <= longest}
    before = {p: v for (s, p), v in read_manifest(conn).items() if s == scope}
    if before == dict(files):
        return
    key = scope or ""
    conn.execute(delete(manifest).where(manifest.c.scope == key))
    if files:
        conn.execute(
            insert(manifest),
            [
                {"scope": key, "path": p, "source_hash": h, "names": n}
                for p, (h, n) in sorted(files.items())
            ],
        )

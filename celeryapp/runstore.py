"""The run side's only SQL: what the beat, the beat lock and the worker read and write.

* the schedule rows the beat loads, and the revisions that say which changed;
* the dispatch ledger: each (schedule, due time) claimed once before it is published,
  in one statement per tick (`INSERT ... ON CONFLICT DO NOTHING RETURNING`), marked
  published once the message is on the broker, released when the publish failed;
* run state: each sent run moves its schedule's last due time and run count;
* the execution table: the worker's once-only key when there is no Redis;
* the beat lease: the beat lock when there is no Redis.

Every statement is a SQLAlchemy Core construct on the tables of `celeryapp.models`. Where
PostgreSQL, SQLite and MySQL/MariaDB differ (a batch as arrays unnested in one statement,
or executemany; ON CONFLICT ... RETURNING, or ON DUPLICATE KEY and a read of which rows
carry this claim's stamp), the dispatch is in this module and nowhere else. Every function runs in
the caller's connection or transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from celeryapp import codec
from celeryapp.models import (
    MYSQL_DIALECTS,
    BeatLease,
    DispatchLedger,
    Execution,
    Pause,
    Revision,
    TaskSchedule,
    server_engine_options,
)
from celeryapp.settings import sqlalchemy_url
from celeryapp.shards import Keeper

# What callers catch when the database fails (they need not import SQLAlchemy for it).
DatabaseError = SQLAlchemyError

schedules = cast(Table, TaskSchedule.__table__)
revisions = cast(Table, Revision.__table__)
ledger = cast(Table, DispatchLedger.__table__)
executions = cast(Table, Execution.__table__)
leases = cast(Table, BeatLease.__table__)
pauses_table = cast(Table, Pause.__table__)

# What the beat's entries are made of (the codec says which columns); descriptions,
# provenance and hashes stay in the database.
ENTRY_COLUMNS = [schedules.c[name] for name in codec.BEAT_COLUMNS]
# SQLite allows 32766 bound parameters per statement; 5 per claimed row.
_CHUNK = 2000
_LOAD_BATCH = 5000

_TEXTS = postgresql.ARRAY(Text)
_TIMES = postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True))


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def new_engine(url: str) -> Engine:
    """An engine of its own (the beat's: disposed when the beat closes)."""
    url = sqlalchemy_url(url)
    return create_engine(url, **server_engine_options(url))


def shared_engine(url: str) -> Engine:
    """One engine per URL and process (the worker's once-only check)."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = new_engine(url)
        return engine


def _upsert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite spell it alike)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _unnested(*arrays: tuple[str, Any], alias: str = "u") -> Any:
    """PostgreSQL: bound arrays as one table, `unnest(...) AS u(name, ...)`: a batch of
    any size in one statement and one round trip."""
    return (
        func.unnest(*(sql_cast(bindparam(name), kind) for name, kind in arrays))
        .table_valued(*(name for name, _ in arrays))
        .render_derived(name=alias)
    )


# --- schedules and revisions (what the beat loads) ---------------------------------------


def current_revision(conn: Connection) -> int:
    """The latest revision (0 before the first apply)."""
    return int(conn.execute(select(func.coalesce(func.max(revisions.c.id), 0))).scalar_one())


def enabled_rows(conn: Connection, keep: Keeper | None = None) -> Iterator[dict[str, Any]]:
    """Every enabled schedule row, as {column: value}, streamed in batches (a server-side
    cursor on PostgreSQL and MySQL: a client-side result of the whole read stayed in
    memory beside the entries built from it). `keep`: only the rows of those shards (a
    sharded beat's own)."""
    enabled = select(*ENTRY_COLUMNS).where(schedules.c.enabled.is_(True))
    streamed = conn.execution_options(yield_per=_LOAD_BATCH)
    if keep is None:
        yield from _as_dicts(streamed.execute(enabled))
        return
    # The database picks the rows by their stored shard key, so a beat leading one shard
    # of four reads a quarter of the table and nothing else (reading every name first and
    # the kept rows by id was half of a one-shard load of 250 000 rows).
    key = schedules.c.shard_key
    yield from _as_dicts(
        streamed.execute(enabled.where((key % keep.shards).in_(sorted(keep.wanted))))
    )
    # Rows written without a key (by other means, or before migration 0009 on a replica
    # that still runs older code): their names decide, here.
    for row in _as_dicts(streamed.execute(enabled.where(key.is_(None)))):
        if keep(row["name"]):
            yield row


def _as_dicts(result: Any) -> Iterator[dict[str, Any]]:
    """The result's rows as {column: value}, fetched in batches."""
    keys = list(result.keys())
    for batch in result.partitions(_LOAD_BATCH):
        for values in batch:
            yield dict(zip(keys, values, strict=True))


def changed_names(conn: Connection, *, after: int) -> set[str]:
    """The schedule names the revisions after `after` changed."""
    names: set[str] = set()
    for (changed,) in conn.execute(select(revisions.c.changed_names).where(revisions.c.id > after)):
        names.update(changed or [])
    return names


def rows_named(conn: Connection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The rows of these names (a name missing from the answer was deleted)."""
    stmt = select(*ENTRY_COLUMNS).where(schedules.c.name.in_(sorted(names)))
    return {r["name"]: dict(r) for r in conn.execute(stmt).mappings()}


def pauses(conn: Connection, names: Iterable[str] | None = None) -> dict[str, datetime | None]:
    """name -> until of the pause rows (all, or of these names); whether one still holds
    is judged by the beat at its own now (celeryapp.pausing)."""
    stmt = select(pauses_table.c.name, pauses_table.c.until_time)
    if names is not None:
        stmt = stmt.where(pauses_table.c.name.in_(sorted(names)))
    return dict(conn.execute(stmt).all())


# --- the dispatch ledger ------------------------------------------------------------------


def claim(
    conn: Connection,
    dues: Sequence[tuple[str, datetime, str]],
    *,
    holder: str,
    now: datetime,
) -> set[tuple[str, datetime]]:
    """Claim (name, due, task_id) triples; return the (name, due) pairs this call won.

    Rows go in in key order on every dialect: two beats claiming overlapping pairs (a
    failover) then take their key locks in one order and never deadlock."""
    if not dues:
        return set()
    dues = sorted(dues)
    columns = ["schedule_name", "due_time", "task_id", "claimed_time", "claimed_by"]
    if conn.dialect.name == "postgresql":
        u = _unnested(("n", _TEXTS), ("d", _TIMES), ("t", _TEXTS))
        stmt = (
            postgresql.insert(ledger)
            .from_select(
                columns,
                select(
                    u.c.n,
                    u.c.d,
                    u.c.t,
                    bindparam("now", type_=ledger.c.claimed_time.type),
                    bindparam("holder", type_=Text),
                ),
            )
            .on_conflict_do_nothing(index_elements=["schedule_name", "due_time"])
            .returning(ledger.c.schedule_name, ledger.c.due_time)
        )
        rows = conn.execute(
            stmt,
            {
                "now": now,
                "holder": holder,
                "n": [n for n, _, _ in dues],
                "d": [d for _, d, _ in dues],
                "t": [t for _, _, t in dues],
            },
        )
        return {(name, due.astimezone(UTC)) for name, due in rows}
    if conn.dialect.name in MYSQL_DIALECTS:
        return _claim_mysql(conn, dues, columns, holder=holder, now=now)
    won: set[tuple[str, datetime]] = set()
    for start in range(0, len(dues), _CHUNK):
        chunk = dues[start : start + _CHUNK]
        values = [dict(zip(columns, (n, d, t, now, holder), strict=True)) for n, d, t in chunk]
        stmt = (
            _upsert(conn, ledger)
            .values(values)
            .on_conflict_do_nothing(index_elements=["schedule_name", "due_time"])
            .returning(ledger.c.schedule_name, ledger.c.due_time)
        )
        won.update((row[0], row[1]) for row in conn.execute(stmt))
    return won


def _claim_mysql(
    conn: Connection,
    dues: Sequence[tuple[str, datetime, str]],
    columns: list[str],
    *,
    holder: str,
    now: datetime,
) -> set[tuple[str, datetime]]:
    """MySQL/MariaDB have no ON CONFLICT ... RETURNING. Per chunk: the pairs already in
    the ledger (claimed before: not won), then `INSERT ... ON DUPLICATE KEY UPDATE id = id`
    (a no-op on a claimed pair; unlike INSERT IGNORE it turns no other error into a
    warning), then the pairs that carry this call's stamp, claimed_by = holder and
    claimed_time = now to the microsecond. A pair another beat claimed in between carries
    its stamp; one claimed by this holder before was in the first read."""
    won: set[tuple[str, datetime]] = set()
    for start in range(0, len(dues), _CHUNK):
        chunk = dues[start : start + _CHUNK]
        pairs = [(n, d) for n, d, _ in chunk]
        in_chunk = tuple_(ledger.c.schedule_name, ledger.c.due_time).in_(pairs)
        pair_columns = (ledger.c.schedule_name, ledger.c.due_time)
        before = {(n, d) for n, d in conn.execute(select(*pair_columns).where(in_chunk))}
        values = [dict(zip(columns, (n, d, t, now, holder), strict=True)) for n, d, t in chunk]
        stmt = mysql.insert(ledger).values(values)
        conn.execute(stmt.on_duplicate_key_update(id=ledger.c.id))
        stamped = conn.execute(
            select(*pair_columns)
            .where(in_chunk)
            .where(ledger.c.claimed_by == holder, ledger.c.claimed_time == now)
        )
        won.update((n, d) for n, d in stamped if (n, d) not in before)
    return won


def mark_published(
    conn: Connection, pairs: Sequence[tuple[str, datetime]], *, when: datetime
) -> None:
    """Record that these claimed runs are on the broker."""
    if not pairs:
        return
    if conn.dialect.name == "postgresql":
        u = _unnested(("n", _TEXTS), ("d", _TIMES))
        stmt = (
            update(ledger)
            .where(ledger.c.schedule_name == u.c.n, ledger.c.due_time == u.c.d)
            .values(published_time=bindparam("when", type_=ledger.c.published_time.type))
        )
        conn.execute(stmt, {"when": when, "n": [n for n, _ in pairs], "d": [d for _, d in pairs]})
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


# --- run state ----------------------------------------------------------------------------

# _RUN_STATE_KEEPS: a run is not an edit of the schedule, so run state leaves the row's
# `updated_time` (what the last apply wrote) alone; the column's ORM `onupdate` would
# otherwise move it on every run.


def write_run_state(conn: Connection, sent: Sequence[tuple[str, datetime]]) -> None:
    """last_run_time = the latest due time sent, run count + the runs sent, per schedule;
    never moves a last run time backwards."""
    if not sent:
        return
    s = schedules
    if conn.dialect.name == "postgresql":
        # Bound names differ from the table's columns: SQLAlchemy reserves those in SET.
        x = _unnested(("n", _TEXTS), ("d", _TIMES), alias="x")
        u = (
            select(x.c.n, func.max(x.c.d).label("due"), func.count().label("runs"))
            .group_by(x.c.n)
            .subquery("u")
        )
        stmt = (
            update(s)
            .where(s.c.name == u.c.n)
            .where(s.c.last_run_time.is_(None) | (s.c.last_run_time < u.c.due))
            .values(
                last_run_time=u.c.due,
                total_run_count=s.c.total_run_count + u.c.runs,
                updated_time=s.c.updated_time,  # see _RUN_STATE_KEEPS
            )
        )
        conn.execute(stmt, {"n": [n for n, _ in sent], "d": [d for _, d in sent]})
        return
    conn.execute(
        update(s)
        .where(s.c.name == bindparam("b_name"))
        .where(s.c.last_run_time.is_(None) | (s.c.last_run_time < bindparam("b_due")))
        .values(
            last_run_time=bindparam("b_due"),
            total_run_count=s.c.total_run_count + 1,
            updated_time=s.c.updated_time,  # see _RUN_STATE_KEEPS
        ),
        [{"b_name": n, "b_due": d} for n, d in sent],
    )


# --- the execution table (once-only without Redis) -----------------------------------------


def claim_execution(conn: Connection, task_id: str, now: datetime) -> bool:
    """True for the first claim of this task id (until the beat prunes it)."""
    if conn.dialect.name in MYSQL_DIALECTS:
        # No RETURNING, and the affected-row count of a no-op upsert is 1 too (SQLAlchemy
        # connects with CLIENT_FOUND_ROWS): a plain INSERT, whose duplicate key is the
        # answer. In a savepoint, so the caller's transaction goes on either way.
        try:
            with conn.begin_nested():
                conn.execute(insert(executions).values(task_id=task_id, started_time=now))
        except IntegrityError:
            return False
        return True
    result = conn.execute(
        _upsert(conn, executions)
        .values(task_id=task_id, started_time=now)
        .on_conflict_do_nothing(index_elements=["task_id"])
        .returning(executions.c.task_id)
    )
    # RETURNING, not rowcount: psycopg reports 1 for a conflicting DO NOTHING insert.
    return result.first() is not None


def prune_executions(conn: Connection, *, before: datetime) -> int:
    """Forget worker execution marks (the once-only key without Redis) older than `before`."""
    result = conn.execute(delete(executions).where(executions.c.started_time < before))
    return int(result.rowcount or 0)


# --- the beat lease (the beat lock without Redis) -------------------------------------------


def hold_lease(conn: Connection, name: str, token: str, *, now: datetime, ttl: timedelta) -> bool:
    """Take the lease `name` when free or expired, or renew it when `token` holds it."""
    exists = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
    if exists is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(leases).values(name=name))
        except IntegrityError:
            pass  # another beat inserted it first
    t = leases
    result = conn.execute(
        update(t)
        .where(t.c.name == name)
        .where(
            (t.c.holder == token)
            | (t.c.holder.is_(None))
            | (t.c.expires_time.is_(None))
            | (t.c.expires_time < now)
        )
        .values(holder=token, expires_time=now + ttl, heartbeat_time=now)
    )
    return bool(result.rowcount)


def release_lease(conn: Connection, name: str, token: str) -> None:
    conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == token)
        .values(holder=None, expires_time=None)
    )


def lease_holder(conn: Connection, name: str) -> str | None:
    row = conn.execute(select(leases.c.holder).where(leases.c.name == name)).first()
    return row[0] if row else None

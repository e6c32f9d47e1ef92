"""The database side of syncd: the only module of the sync half that talks SQL.

* `migrate` runs Alembic to head (apply and watch call it first);
* `snapshot` reads the rows a plan is made against, in one query;
* `apply` re-plans and writes under a database lock, in one transaction, and records the
  revision the beat reloads from.

PostgreSQL serializes applies with a transaction-scoped advisory lock bounded by
`lock_timeout`; SQLite with `BEGIN IMMEDIATE` bounded by its busy timeout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from celeryapp.models import ControllerState, Revision, TaskSchedule, json_column_loads
from celeryapp.redact import redact_url
from celeryapp.settings import sqlalchemy_url
from syncd.errors import LockTimeout, NoDatabase, ServiceUnavailable, UsageError
from syncd.plan import Plan, Row
from syncd.spec import SCHEDULE_COLUMNS, row_hash, row_values

log = logging.getLogger(__name__)

# Alembic's package-resource form: the scripts are package data of the installed celeryapp.
MIGRATIONS = "celeryapp:migrations"
# Any fixed 64-bit number: the advisory lock every `syncd apply` takes.
APPLY_LOCK_KEY = 0x5359_4E43_4441_5050 & 0x7FFF_FFFF_FFFF_FFFF
DEFAULT_LOCK_TIMEOUT = 30.0

table = cast(Table, TaskSchedule.__table__)
revisions = cast(Table, Revision.__table__)
_SNAPSHOT_COLUMNS = [
    table.c.id,
    table.c.managed,
    table.c.source,
    table.c.source_hash,
    table.c.row_hash,
    *(table.c[name] for name in SCHEDULE_COLUMNS),
]


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process; SQLite gets explicit transaction control so an apply
    can take the write lock up front (BEGIN IMMEDIATE)."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": DEFAULT_LOCK_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("immediate") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True, json_deserializer=json_column_loads)


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection, with unreachable databases turned into one clear error (exit 3)."""
    try:
        engine = engine_for(url)
    except ArgumentError:
        raise UsageError(
            f"the database URL {redact_url(url)!r} is not a SQLAlchemy URL; write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DB (a libpq key=value DSN is not accepted), "
            "mysql+pymysql://... or sqlite:///PATH [--database-url, SYNCD_DATABASE_URL]"
        ) from None
    try:
        conn = engine.connect()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise ServiceUnavailable(
            f"cannot reach the database at {redact_url(url)}: {redact_url(reason)}"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):  # a SQLite URI filename (uri=true)
        database = database[len("file:") :].partition("?")[0]
    return database


def database_exists(url: str) -> bool:
    """False only when the URL names a SQLite file that is not there: connecting would
    create it, so read-only commands ask first. A server database is asked by connecting."""
    import os

    path = sqlite_file(url)
    return path is None or os.path.exists(path)


def require_database(url: str) -> None:
    """NoDatabase (exit 3) instead of creating an empty SQLite file by reading it."""
    if not database_exists(url):
        raise NoDatabase(
            f"no database at {redact_url(url)}: the file {sqlite_file(url)} does not exist, "
            "so nothing has been applied here yet; run `syncd apply` (or `syncd migrate`) "
            "first, or point --database-url / SYNCD_DATABASE_URL at the database to read"
        )


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["connection"] = conn
    return cfg


def schema_version(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
    """Upgrade the database to the current schema (a cheap no-op when it is current).

    The upgrade runs under the apply lock (PostgreSQL's advisory lock; SQLite's write lock
    taken up front with BEGIN IMMEDIATE), and the version is read again once the lock is
    held: concurrent first applies then wait for one migration instead of racing in it
    (SQLite "database is locked", PostgreSQL's duplicate key in pg_type).
    """
    from celeryapp.migrations import HEAD

    with connect(url) as conn:
        current = schema_version(conn) == HEAD
        conn.rollback()
    if current:
        return
    from alembic import command

    with _write_transaction(url, lock_timeout) as conn:
        if schema_version(conn) != HEAD:
            command.upgrade(_alembic_config(conn), "head")


def has_schema(conn: Connection) -> bool:
    return bool(inspect(conn).has_table(table.name))


def current_revision(conn: Connection) -> int | None:
    if not inspect(conn).has_table(revisions.name):
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
            columns=dict(zip(SCHEDULE_COLUMNS, record[5:], strict=True)),
            managed=bool(record[1]),
            source=record[2],
            source_hash=record[3],
            row_hash=record[4],
        )
        for record in records
    ]


@dataclass(frozen=True)
class Applied:
    plan: Plan
    revision: int | None  # the revision recorded; None when nothing changed


def _lock(conn: Connection, timeout: float) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            conn.execute(select(func.pg_advisory_xact_lock(APPLY_LOCK_KEY)))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":
                raise LockTimeout(
                    f"another apply has held the lock for more than {timeout:g}s; "
                    "try again when it has finished, or raise --lock-timeout"
                ) from None
            raise
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")


@contextmanager
def _write_transaction(url: str, lock_timeout: float) -> Iterator[Connection]:
    with connect(url) as raw:
        conn = raw
        if raw.dialect.name == "sqlite":
            raw.exec_driver_sql(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
            raw.commit()
            conn = raw.execution_options(immediate=True)
        try:
            with conn.begin():
                _lock(conn, lock_timeout)
                yield conn
        except OperationalError as exc:
            if conn.dialect.name == "sqlite" and "locked" in str(exc.orig):
                raise LockTimeout(
                    f"another apply has held the database for more than {lock_timeout:g}s; "
                    "try again when it has finished, or raise --lock-timeout"
                ) from None
            raise


def _bookkeeping(change_schedule: Any) -> dict[str, Any]:
    src = change_schedule.source
    return {
        "source": f"{src.path}:{src.line}" if src is not None else None,
        "source_hash": change_schedule.source_hash,
    }


def _insert_rows(conn: Connection, records: list[dict[str, Any]]) -> None:
    """Insert new rows: COPY on PostgreSQL (as fast as the floor), executemany elsewhere."""
    if conn.dialect.name != "postgresql" or len(records) < 50:
        conn.execute(insert(table), records)
        return
    columns = [c for c in table.c if c.name != "id"]
    # Per column, once: its name, whether it holds JSON, and the value when a record lacks it.
    plan = [(c.name, isinstance(c.type, JSON), _default(c)) for c in columns]
    names = ", ".join(f'"{c.name}"' for c in columns)
    dumps = json.dumps
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
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


def write_plan(
    conn: Connection,
    plan: Plan,
    *,
    now: datetime,
    git_commit: str | None,
    actor: str | None,
    changes_json: Sequence[dict[str, Any]],
    git_author: str | None = None,
    git_subject: str | None = None,
) -> int | None:
    """Write a plan inside the caller's transaction; return the revision (None: no-op)."""
    revision: int | None = None
    if plan.changes:
        revision = int(
            conn.execute(
                insert(revisions)
                .values(
                    created_time=now,
                    git_commit=git_commit,
                    git_author=git_author,
                    git_subject=git_subject,
                    actor=actor,
                    changed_names=plan.changed_names,
                    summary=plan.summary(),
                    changes=list(changes_json),
                )
                .returning(revisions.c.id)
            ).scalar_one()
        )
    creates, updates, deletes = [], [], []
    for change in plan.changes:
        if change.action == "delete":
            deletes.append(change.row_id)
            continue
        assert change.schedule is not None
        values = row_values(change.schedule)
        record = {
            **values,
            **_bookkeeping(change.schedule),
            "row_hash": row_hash(values),
            "managed": True,
            "revision": revision,
        }
        if change.action == "create":
            creates.append(
                {**record, "created_time": now, "schedule_changed_time": now, "total_run_count": 0}
            )
        else:
            record["updated_time"] = now
            record["_id"] = change.row_id
            record["_changed"] = now if change.timing_changed else None
            updates.append(record)
    if deletes:
        conn.execute(delete(table).where(table.c.id.in_(deletes)))
    if creates:
        _insert_rows(conn, creates)
    if updates:
        timing = [u for u in updates if u["_changed"] is not None]
        other = [u for u in updates if u["_changed"] is None]
        for batch, extra in ((timing, True), (other, False)):
            if not batch:
                continue
            keys = [k for k in batch[0] if not k.startswith("_")]
            values_map: dict[str, Any] = {k: bindparam(f"v_{k}") for k in keys}
            if extra:
                values_map["schedule_changed_time"] = bindparam("v_changed")
            stmt = update(table).where(table.c.id == bindparam("v_id")).values(values_map)
            params = [
                {**{f"v_{k}": u[k] for k in keys}, "v_id": u["_id"], "v_changed": u["_changed"]}
                for u in batch
            ]
            if not extra:
                for p in params:
                    p.pop("v_changed")
            conn.execute(stmt, params)
    if plan.refresh:
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
        for schedule in plan.refresh:
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
    return revision


def apply(
    url: str,
    make: Callable[[Connection, int | None], Plan],
    *,
    lock_timeout: float,
    now: datetime,
    git_commit: Callable[[], str | None],
    actor: str | None,
    render_changes: Callable[[Plan], Sequence[dict[str, Any]]],
    git_author: str | None = None,
    git_subject: str | None = None,
    inside: Callable[[Connection, Plan, int | None], None] | None = None,
) -> Applied:
    """Migrate, then plan again under the lock (the earlier plan may be stale) and write it
    in the same transaction. `make(conn, revision)` builds the plan from the live table."""
    migrate(url, lock_timeout)
    with _write_transaction(url, lock_timeout) as conn:
        plan = make(conn, current_revision(conn))
        if plan.errors:
            return Applied(plan, None)
        revision = write_plan(
            conn,
            plan,
            now=now,
            git_commit=git_commit() if plan.changes else None,
            actor=actor,
            changes_json=render_changes(plan),
            git_author=git_author if plan.changes else None,
            git_subject=git_subject if plan.changes else None,
        )
        if inside is not None:
            # More writes in the same transaction (the controller records the live commit
            # with the rows it made live: both or neither).
            inside(conn, plan, revision)
    return Applied(plan, revision)


def latest_revision_row(conn: Connection) -> dict[str, Any] | None:
    if not inspect(conn).has_table(revisions.name):
        return None
    record = (
        conn.execute(select(revisions).order_by(revisions.c.id.desc()).limit(1)).mappings().first()
    )
    return dict(record) if record else None


# --- the controller's shared state (syncd serve) -------------------------------------------

controller = cast(Table, ControllerState.__table__)
# Advisory locks of `syncd serve`: one per source, so one replica fetches and applies.
_CONTROLLER_LOCK_BASE = 0x5359_4E43_5345_5256 & 0x7FFF_FFFF_FFFF_0000


def read_controller(conn: Connection, key: str | None = None) -> list[dict[str, Any]]:
    """Controller rows (all, or the one for `key`); empty before the first `serve`."""
    if not inspect(conn).has_table(controller.name):
        return []
    stmt = select(controller).order_by(controller.c.key)
    if key is not None:
        stmt = stmt.where(controller.c.key == key)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def write_controller(conn: Connection, key: str, values: dict[str, Any]) -> None:
    """Update the controller row `key` (inserting it first when missing), in the caller's
    transaction."""
    found = conn.execute(select(controller.c.key).where(controller.c.key == key)).first()
    if found is None:
        conn.execute(insert(controller).values(key=key, **values))
    else:
        conn.execute(update(controller).where(controller.c.key == key).values(**values))


def ping(url: str) -> None:
    """Raise ServiceUnavailable (or a SQLAlchemy error) unless the database answers."""
    with connect(url) as conn:
        conn.execute(text("SELECT 1"))
        conn.rollback()


def revision_row(conn: Connection, revision: int) -> dict[str, Any] | None:
    if not inspect(conn).has_table(revisions.name):
        return None
    record = conn.execute(select(revisions).where(revisions.c.id == revision)).mappings().first()
    return dict(record) if record else None


def drifted_names(conn: Connection) -> list[str]:
    return sorted(r.name for r in snapshot(conn) if r.drifted)


@contextmanager
def controller_lock(url: str, key: str, lock_file: str) -> Iterator[bool]:
    """Try to take the lock of one controller source without waiting: yields whether it
    is held. PostgreSQL: a session advisory lock (released when the connection goes, a
    kill -9 included); MySQL: GET_LOCK; SQLite (one host): flock on `lock_file`."""
    engine = engine_for(url)
    name = engine.dialect.name
    if name == "sqlite":
        import fcntl

        with open(lock_file, "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    number = _CONTROLLER_LOCK_BASE | (int(key[:4], 16) & 0xFFFF)
    with connect(url) as conn:
        if name == "postgresql":
            held = bool(conn.execute(select(func.pg_try_advisory_lock(number))).scalar())
        else:
            held = (
                conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": f"syncd-serve-{key}"}).scalar()
                == 1
            )
        conn.commit()
        try:
            yield held
        finally:
            if held:
                try:
                    if name == "postgresql":
                        conn.execute(select(func.pg_advisory_unlock(number)))
                    else:
                        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": f"syncd-serve-{key}"})
                    conn.commit()
                except DBAPIError:
                    conn.invalidate()  # the connection is gone, and the lock with it

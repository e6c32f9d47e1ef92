"""The apply lock and the one write transaction every apply (and migration) runs in.

PostgreSQL serializes applies with a transaction-scoped advisory lock bounded by
`lock_timeout`; SQLite with `BEGIN IMMEDIATE` bounded by its busy timeout; MySQL and
MariaDB with a named lock, `GET_LOCK(name, timeout)`. That one belongs to the session, not
the transaction (and survives the implicit commits of a migration's DDL): it is released
with `RELEASE_LOCK` once the transaction has ended, committed or rolled back, and a
connection that cannot release it is closed, which releases it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from celeryapp.models import MYSQL_DIALECTS
from syncd.errors import LockTimeout
from syncd.store.engine import connect

# Any fixed 64-bit number: the advisory lock every `syncd apply` takes.
APPLY_LOCK_KEY = 0x5359_4E43_4441_5050 & 0x7FFF_FFFF_FFFF_FFFF


def mysql_lock_name(conn: Connection, purpose: str) -> str:
    """A MySQL/MariaDB lock name for `purpose` in this connection's database. Named locks
    are server-wide and MySQL takes at most 64 characters: the database is in the name as
    a digest, so two databases on one server never wait for each other."""
    database = conn.engine.url.database or ""
    digest = hashlib.sha256(database.encode()).hexdigest()[:32]
    return f"syncd.{purpose[:20]}.{digest}"


def _timed_out(timeout: float) -> LockTimeout:
    return LockTimeout(
        f"another apply has held the lock for more than {timeout:g}s; "
        "try again when it has finished, or raise --lock-timeout"
    )


def _lock(conn: Connection, timeout: float) -> str | None:
    """Take the apply lock inside the open transaction; the MySQL lock name to release
    once it has ended (None: the lock ends with the transaction)."""
    if conn.dialect.name in MYSQL_DIALECTS:
        name = mysql_lock_name(conn, "apply")
        got = conn.execute(
            text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout}
        )
        if got.scalar() != 1:  # 0: timed out; NULL: an error (killed while waiting)
            raise _timed_out(timeout)
        return name
    if conn.dialect.name != "postgresql":
        return None  # SQLite: the write lock is the transaction itself (BEGIN IMMEDIATE)
    # SET LOCAL takes no bound parameter; set_config(..., true) is the same, bound.
    conn.execute(select(func.set_config("lock_timeout", f"{int(timeout * 1000)}ms", True)))
    try:
        conn.execute(select(func.pg_advisory_xact_lock(APPLY_LOCK_KEY)))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":
            raise _timed_out(timeout) from None
        raise
    conn.execute(text("SET LOCAL lock_timeout = 0"))
    return None


def release_mysql_lock(conn: Connection, name: str) -> None:
    """RELEASE_LOCK outside any transaction; a connection that cannot is invalidated (its
    session ends, and the lock with it) rather than returned to the pool holding it."""
    try:
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        conn.commit()
    except DBAPIError:
        conn.invalidate()


@contextmanager
def write_transaction(url: str, lock_timeout: float) -> Iterator[Connection]:
    """One transaction holding the apply lock: everything written in it is committed
    together or not at all (a kill -9 inside leaves the old state)."""
    with connect(url) as raw:
        conn = raw
        if raw.dialect.name == "sqlite":
            # A PRAGMA takes no bound parameter; the value is an int we computed.
            raw.exec_driver_sql("PRAGMA busy_timeout = " + str(int(lock_timeout * 1000)))
            raw.commit()
            conn = raw.execution_options(immediate=True)
        held: str | None = None
        try:
            with conn.begin():
                held = _lock(conn, lock_timeout)
                yield conn
        except OperationalError as exc:
            if conn.dialect.name == "sqlite" and "locked" in str(exc.orig):
                raise LockTimeout(
                    f"another apply has held the database for more than {lock_timeout:g}s; "
                    "try again when it has finished, or raise --lock-timeout"
                ) from None
            raise
        finally:
            if held is not None:
                release_mysql_lock(raw, held)

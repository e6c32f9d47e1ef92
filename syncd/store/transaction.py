"""The apply lock and the one write transaction every apply (and migration) runs in.

PostgreSQL serializes applies with a transaction-scoped advisory lock bounded by
`lock_timeout`; SQLite with `BEGIN IMMEDIATE` bounded by its busy timeout. Another
dialect (MySQL comes later) adds its branch here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from syncd.errors import LockTimeout
from syncd.store.engine import connect

# Any fixed 64-bit number: the advisory lock every `syncd apply` takes.
APPLY_LOCK_KEY = 0x5359_4E43_4441_5050 & 0x7FFF_FFFF_FFFF_FFFF


def _lock(conn: Connection, timeout: float) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite: the write lock is the transaction itself (BEGIN IMMEDIATE)
    # SET LOCAL takes no bound parameter; set_config(..., true) is the same, bound.
    conn.execute(select(func.set_config("lock_timeout", f"{int(timeout * 1000)}ms", True)))
    try:
        conn.execute(select(func.pg_advisory_xact_lock(APPLY_LOCK_KEY)))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":
            raise LockTimeout(
                f"another apply has held the lock for more than {timeout:g}s; "
                "try again when it has finished, or raise --lock-timeout"
            ) from None
        raise
    conn.execute(text("SET LOCAL lock_timeout = 0"))


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

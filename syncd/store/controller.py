"""The controller's shared state (`syncd serve`): one row per source, and the lock that
lets one replica fetch and apply it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from celeryapp.models import ControllerState
from syncd.store.engine import connect, engine_for
from syncd.store.transaction import mysql_lock_name, release_mysql_lock

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
        # MySQL/MariaDB: a named lock of this database (at most 64 characters: the
        # source's key shortened, the database as a digest).
        lock_name = mysql_lock_name(conn, f"serve-{key[:14]}")
        if name == "postgresql":
            held = bool(conn.execute(select(func.pg_try_advisory_lock(number))).scalar())
        else:
            held = conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": lock_name}).scalar() == 1
        conn.commit()
        try:
            yield held
        finally:
            if held and name == "postgresql":
                try:
                    conn.execute(select(func.pg_advisory_unlock(number)))
                    conn.commit()
                except DBAPIError:
                    conn.invalidate()  # the connection is gone, and the lock with it
            elif held:
                release_mysql_lock(conn, lock_name)

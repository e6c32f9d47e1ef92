"""Engines and connections: one engine per URL and process, unreachable databases turned
into one clear error (exit 3), and SQLite files that are never created by reading them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from celeryapp.models import server_engine_options
from celeryapp.redact import redact_url
from celeryapp.settings import sqlalchemy_url
from syncd.errors import NoDatabase, ServiceUnavailable, UsageError

# What the callers of the store catch when the database fails mid-way (a restart, a
# failover): they need not import SQLAlchemy for it.
DatabaseError = SQLAlchemyError
DEFAULT_LOCK_TIMEOUT = 30.0

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "Connection",
    "DatabaseError",
    "connect",
    "database_exists",
    "engine_for",
    "ping",
    "require_database",
    "sqlite_file",
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
            immediate = conn.get_execution_options().get("immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN DEFERRED")

        return engine
    return create_engine(url, **server_engine_options(url))


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
    create it, so read-only commands ask first. A server database (PostgreSQL, MySQL,
    MariaDB) is never created by connecting, so it is asked by connecting: a missing one is
    the server's error (exit 3)."""
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


def ping(url: str) -> None:
    """Raise ServiceUnavailable (or a SQLAlchemy error) unless the database answers."""
    with connect(url) as conn:
        conn.execute(text("SELECT 1"))
        conn.rollback()

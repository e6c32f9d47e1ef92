"""The schema: Alembic to head under the apply lock (apply, watch and serve call it first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect, text

from syncd.errors import SyncdError
from syncd.store.engine import DEFAULT_LOCK_TIMEOUT, connect
from syncd.store.transaction import write_transaction

# Alembic's package-resource form: the scripts are package data of the installed celeryapp.
MIGRATIONS = "celeryapp:migrations"


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


class ForeignTable(SyncdError):
    """A table of one of syncd's names exists and syncd's migrations did not make it."""


def _foreign_tables(conn: Connection) -> list[str]:
    """On a database syncd never migrated, the tables its migrations would create that
    exist already (fba's `sys_task_scheduler`, say). Checked before the first CREATE:
    MySQL/MariaDB commit each DDL statement, so a migration stopped at one of these would
    leave the tables before it behind."""
    if schema_version(conn) is not None:
        return []
    from celeryapp.models import Base

    existing = set(inspect(conn).get_table_names())
    return sorted(name for name in Base.metadata.tables if name in existing)


def _refuse_foreign(tables: list[str]) -> ForeignTable:
    from celeryapp.models import TABLE_NAME

    which = ", ".join(tables)
    hint = (
        f"the schedule table ({TABLE_NAME}) may be another scheduler's (fba names its table"
        " sys_task_scheduler too): set SYNCD_TABLE_NAME to another name"
        if TABLE_NAME in tables
        else "drop or rename it, or use another database"
    )
    verb = "already exists" if len(tables) == 1 else "already exist"
    return ForeignTable(
        f"cannot migrate: {which} {verb}, made by something other than syncd's migrations;"
        f" {hint}; nothing was changed"
    )


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

    with write_transaction(url, lock_timeout) as conn:
        if schema_version(conn) != HEAD:
            if foreign := _foreign_tables(conn):
                raise _refuse_foreign(foreign)
            command.upgrade(_alembic_config(conn), "head")

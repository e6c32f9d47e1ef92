"""Throwaway databases (PostgreSQL, MariaDB) and the service addresses every benchmark uses."""

from __future__ import annotations

import os
import uuid

import psycopg
import pymysql

ADMIN = os.environ.get("SYNCD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("SYNCD_TEST_REDIS", "redis://127.0.0.1:6379/0")


def create_db() -> tuple[str, str]:
    """A new empty PostgreSQL database: (its name, its URL)."""
    name = f"syncd_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_db(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MYSQL = os.environ.get("SYNCD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")


def _mysql_admin() -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )


def create_mysql_db() -> tuple[str, str]:
    """A new empty MariaDB/MySQL database (utf8mb4): (its name, its URL)."""
    name = f"syncd_bench_{uuid.uuid4().hex[:8]}"
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name, f"{MYSQL.rstrip('/')}/{name}"


def drop_mysql_db(name: str) -> None:
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

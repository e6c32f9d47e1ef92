"""Shared fixtures: throwaway PostgreSQL and MariaDB databases, Redis key prefixes, SQLite
files.

Every test gets its own database / prefix and cleans up, so the suite can run twice in a
row and beside a running dev stack. Services are the real ones on 127.0.0.1; a test that
needs one that is down fails loudly rather than skipping (CI starts them).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
import redis

PG_ADMIN_URL = os.environ.get("SYNCD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# MariaDB (or MySQL): host, port and user of the server the tests make their databases on.
MYSQL_ADMIN_URL = os.environ.get("SYNCD_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("SYNCD_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("SYNCD_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


def create_pg_database() -> tuple[str, str]:
    """Create an empty database; return (name, SQLAlchemy URL)."""
    name = f"syncd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, _pg_url(name)


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql_admin() -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_ADMIN_URL)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )


def create_mysql_database() -> tuple[str, str]:
    """Create an empty database on MariaDB, as docs/databases.md says to (utf8mb4, the
    default case-insensitive collation: the tables bring their own); return (name, URL)."""
    name = f"syncd_test_{uuid.uuid4().hex[:12]}"
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name, f"{MYSQL_ADMIN_URL.rstrip('/')}/{name}?charset=utf8mb4"


def drop_mysql_database(name: str) -> None:
    with _mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for this test (SQLAlchemy URL, pymysql)."""
    name, url = create_mysql_database()
    try:
        yield url
    finally:
        drop_mysql_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (SQLAlchemy URL, psycopg 3)."""
    name, url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'syncd.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every supported database, one test run each."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'syncd.db'}"
        return
    create, drop = (
        (create_pg_database, drop_pg_database)
        if request.param == "postgresql"
        else (create_mysql_database, drop_mysql_database)
    )
    name, url = create()
    try:
        yield url
    finally:
        drop(name)


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each server database (for what SQLite has no part in: locks that wait, racing
    connections, the result backend), one test run each."""
    create, drop = (
        (create_pg_database, drop_pg_database)
        if request.param == "postgresql"
        else (create_mysql_database, drop_mysql_database)
    )
    name, url = create()
    try:
        yield url
    finally:
        drop(name)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix on the shared Redis; every key under it is deleted afterwards."""
    prefix = f"syncd-test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def rabbit_vhost() -> Iterator[str]:
    """A throwaway vhost on the shared RabbitMQ, deleted afterwards."""
    name = f"syncd-test-{uuid.uuid4().hex[:12]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, timeout=60)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            timeout=60,
        )
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False, timeout=60)

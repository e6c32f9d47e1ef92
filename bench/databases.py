"""Throwaway databases and the service addresses every benchmark uses."""

from __future__ import annotations

import os
import uuid

import psycopg

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

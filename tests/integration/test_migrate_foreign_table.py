"""`syncd migrate` on a database that already holds a table of one of syncd's names, made by
something else: fba's schedule table is `sys_task_scheduler` too (docs/import.md). The
migration refuses before it creates anything (MariaDB's DDL is not transactional: a
migration stopped at the schedule table left syncd's other tables behind, and the way out
the error pointed to, SYNCD_TABLE_NAME, then failed on them), names the table and says how
to go on; with SYNCD_TABLE_NAME the same database migrates, and fba's rows stay as they
were."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text

pytestmark = pytest.mark.integration

SYNCD = str(Path(sys.executable).with_name("syncd"))


def _syncd(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    return subprocess.run(
        [SYNCD, "--database-url", url, *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_migrate_refuses_a_foreign_table_of_syncds_name_and_creates_nothing(db_url: str) -> None:
    engine = create_engine(db_url)
    fba = Table(
        "sys_task_scheduler",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(64), nullable=False),
    )
    try:
        fba.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(fba.insert().values(id=1, name="sync-users"))
    finally:
        engine.dispose()

    done = _syncd(db_url, "migrate")
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "sys_task_scheduler already exists" in done.stderr, done.stderr
    assert "SYNCD_TABLE_NAME" in done.stderr, done.stderr
    assert "nothing was changed" in done.stderr, done.stderr
    assert _tables(db_url) == {"sys_task_scheduler"}

    done = _syncd(db_url, "migrate", SYNCD_TABLE_NAME="syncd_schedules")
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "syncd_schedules" in _tables(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name FROM sys_task_scheduler")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "sync-users")]

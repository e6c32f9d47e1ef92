"""What only MySQL/MariaDB needs proving (the shared behaviour runs on it through `db_url`):
the named apply lock ends with the transaction, also on error; names compare exactly and
descriptions keep four-byte characters whatever the database's collation; instants keep
their microseconds; a file path longer than the manifest key still applies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from celeryapp import runstore
from celeryapp.models import MYSQL_KEY_CHARS
from syncd import store
from syncd.store.transaction import mysql_lock_name
from tests.integration.test_apply import run
from tests.integration.test_runstore import _row

pytestmark = pytest.mark.integration

TWO_NAMES = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    description: "lower case 🌙"
  - name: weekly
    task: reports.send
    cron: "0 3 * * 1"
    description: "☀️ — 夜"
"""


def _lock_is_free(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            name = mysql_lock_name(conn, "apply")
            return conn.execute(text("SELECT IS_FREE_LOCK(:n)"), {"n": name}).scalar() == 1
    finally:
        engine.dispose()


def test_the_apply_lock_is_released_when_the_transaction_ends(mysql_url: str) -> None:
    store.migrate(mysql_url)
    assert _lock_is_free(mysql_url)
    with store.write_transaction(mysql_url, 5) as conn:
        assert conn.execute(
            text("SELECT IS_USED_LOCK(:n)"), {"n": mysql_lock_name(conn, "apply")}
        ).scalar()
        assert not _lock_is_free(mysql_url)
    assert _lock_is_free(mysql_url)
    with pytest.raises(RuntimeError), store.write_transaction(mysql_url, 5):
        raise RuntimeError("an apply that fails half way")
    assert _lock_is_free(mysql_url)
    # and the pooled connection that held it takes it again at once
    with store.write_transaction(mysql_url, 1):
        pass


def test_the_lock_names_its_database(mysql_url: str) -> None:
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            name = mysql_lock_name(conn, "serve-0123456789abcd")
    finally:
        engine.dispose()
    assert len(name) <= 64  # MySQL's limit on a lock name
    assert (
        mysql_url.rsplit("/", 1)[1].split("?", maxsplit=1)[0] not in name
    )  # a digest, not the name


def test_names_compare_exactly_and_descriptions_keep_four_byte_characters(
    mysql_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "two.yaml").write_text(TWO_NAMES, encoding="utf-8")
    store.migrate(mysql_url)
    with store.write_transaction(mysql_url, 5) as conn:  # a row made by other means (fba)
        store._insert_rows(conn, [{**_row("Nightly"), "managed": False}])
    run("--database-url", mysql_url, "apply", str(folder))
    out = run("--database-url", mysql_url, "plan", "--format", "json", str(folder))
    assert json.loads(out.stdout)["summary"]["create"] == 0
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(select(runstore.schedules.c.name, runstore.schedules.c.remark))
            rows: dict[str, str | None] = dict(found.all())
            charsets = (
                conn.execute(
                    text(
                        "SELECT DISTINCT table_collation FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name LIKE 'syncd%'"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert set(rows) == {"nightly", "Nightly", "weekly"}  # "Nightly" is not a duplicate
    assert "🌙" in (rows["nightly"] or "") and "☀️ — 夜" in (rows["weekly"] or "")
    assert charsets == ["utf8mb4_bin"]


def test_instants_keep_microseconds_and_come_back_in_utc(mysql_url: str) -> None:
    store.migrate(mysql_url)
    engine = runstore.new_engine(mysql_url)
    due = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            won = runstore.claim(conn, [("a", due, "a@x")], holder="h", now=due)
        assert won == {("a", due)}
        with engine.connect() as conn:
            stored = conn.execute(select(runstore.ledger.c.due_time)).scalar_one()
    finally:
        engine.dispose()
    assert stored == due and stored.tzinfo is UTC


def test_a_path_longer_than_the_manifest_key_applies_and_plans_empty(
    mysql_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "schedules"
    deep = folder
    while len(str(deep.relative_to(tmp_path))) <= MYSQL_KEY_CHARS + 10:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    (deep / "a.yaml").write_text(
        TWO_NAMES.split("  - name: Nightly", maxsplit=1)[0], encoding="utf-8"
    )
    run("--database-url", mysql_url, "apply", "schedules", cwd=tmp_path)
    out = run("--database-url", mysql_url, "plan", "--format", "json", "schedules", cwd=tmp_path)
    assert json.loads(out.stdout)["changes"] == []

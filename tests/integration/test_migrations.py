"""`alembic upgrade head` yields exactly the schema the models declare, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from celeryapp.migrations import HEAD
from celeryapp.models import Base
from syncd import store

pytestmark = pytest.mark.integration


def test_head_constant_matches_the_scripts() -> None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(store.MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD


def test_upgrade_head_matches_the_models(db_url: str) -> None:
    store.migrate(db_url)
    store.migrate(db_url)  # a second run is a no-op
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert store.schema_version(conn) == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_0009_fills_each_rows_shard_key_with_the_crc32_of_its_name(db_url: str) -> None:
    """Rows written before 0009 get `shard_key` = celeryapp.shards.shard_key(name) (the
    server's CRC32 on MySQL/MariaDB, Python's elsewhere), non-ASCII names included."""
    from alembic import command

    from celeryapp.shards import shard_key
    from syncd.store.migrations import _alembic_config

    engine = create_engine(db_url)
    names = ["plain", "zürich-täglich", "東京-nightly", "emoji-🚀", *[f"n-{i}" for i in range(30)]]
    old = sa.table(
        "sys_task_scheduler",
        *(sa.column(c) for c in ("name", "task", "type", "enabled", "one_off")),
        *(sa.column(c) for c in ("total_run_count", "catchup", "overlap", "managed")),
        sa.column("created_time"),
    )
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "0008")
            conn.execute(
                old.insert(),
                [
                    {"name": n, "task": "t", "type": 0, "enabled": True, "one_off": False,
                     "total_run_count": 0, "catchup": "latest", "overlap": "allow",
                     "managed": True, "created_time": datetime(2026, 12, 6, tzinfo=UTC)}
                    for n in names
                ],
            )  # fmt: skip
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        with engine.connect() as conn:
            got = dict(
                conn.execute(sa.text("SELECT name, shard_key FROM sys_task_scheduler")).all()
            )
    finally:
        engine.dispose()
    assert got == {n: shard_key(n) for n in names}

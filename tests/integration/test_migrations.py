"""`alembic upgrade head` yields exactly the schema the models declare, on both databases."""

from __future__ import annotations

import pytest
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

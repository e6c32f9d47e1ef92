"""The per-source lock of `syncd serve` on PostgreSQL (a session advisory lock) and SQLite
(a file lock beside the database): a second taker is refused at once, another source is
not, and the lock comes back on release."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import store
from syncd.serve import lock_file_for

pytestmark = pytest.mark.integration


def test_one_holder_per_source(db_url: str, tmp_path: Path) -> None:
    store.migrate(db_url)
    key, other = "a" * 32, "b" * 32
    lock_a = lock_file_for(db_url, tmp_path, key)
    lock_b = lock_file_for(db_url, tmp_path, other)
    with store.controller_lock(db_url, key, lock_a) as first:
        assert first is True
        with store.controller_lock(db_url, key, lock_a) as second:
            assert second is False
        with store.controller_lock(db_url, other, lock_b) as third:
            assert third is True
    with store.controller_lock(db_url, key, lock_a) as again:
        assert again is True


def test_sqlite_replicas_with_their_own_state_dirs_share_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    one = lock_file_for(url, tmp_path / "state-one", "c" * 32)
    two = lock_file_for(url, tmp_path / "state-two", "c" * 32)
    assert one == two == str(tmp_path / "db.sqlite.syncd-serve-cccccccccccc.lock")

"""Concurrent applies on a fresh database: the migration runs under the apply lock, so
none of them fails in it (SQLite "database is locked", PostgreSQL duplicate pg_type key)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_apply import A, dump

pytestmark = pytest.mark.integration
SYNCD = str(Path(sys.executable).with_name("syncd"))
N = 6


@pytest.mark.parametrize("attempt", range(2))
def test_concurrent_applies_on_a_fresh_database(db_url: str, tmp_path: Path, attempt: int) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(A)
    env = {k: v for k, v in os.environ.items() if k != "SYNCD_REDIS_URL"}
    procs = [
        subprocess.Popen(
            [SYNCD, "--database-url", db_url, "apply", "schedules"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(N)
    ]
    outcomes = []
    for proc in procs:
        _out, err = proc.communicate(timeout=180)
        outcomes.append((proc.returncode, err.strip()))
    assert [code for code, _ in outcomes] == [0] * N, outcomes
    rows = dump(db_url)
    assert sorted(r["name"] for r in rows if "task" in r) == ["heartbeat", "nightly"]
    assert len([r for r in rows if "changed_names" in r]) == 1  # one revision: one apply wrote

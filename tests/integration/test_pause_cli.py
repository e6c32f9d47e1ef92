"""`syncd pause` and `syncd resume` through the real CLI on SQLite and PostgreSQL: the
pause table, the revision that tells the beat, an apply that leaves a pause alone, and
errors that change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncd import store

pytestmark = pytest.mark.integration

SYNCD = str(Path(sys.executable).with_name("syncd"))
SCHEDULES = """\
version: 1
schedules:
  - name: nightly
    task: celeryapp.tasks.echo
    cron: "0 3 * * *"
  - name: often
    task: celeryapp.tasks.echo
    every: 1m
"""


def _syncd(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(SYNCD_DATABASE_URL=url, SYNCD_ACTOR="ops@test")
    return subprocess.run(
        [SYNCD, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


def _revisions(url: str) -> list[dict[str, Any]]:
    with store.connect(url) as conn:
        last = store.current_revision(conn) or 0
        return [r for n in range(1, last + 1) if (r := store.revision_row(conn, n))]


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pause_resume_and_an_apply_between(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    assert _syncd(tmp_path, db_url, "apply").returncode == 0

    paused = _json(
        _syncd(tmp_path, db_url, "pause", "nightly", "--reason", "incident 42", "--until", "2h",
               "--format", "json")
    )  # fmt: skip
    assert paused["names"] == ["nightly"] and paused["revision"] == 2
    with store.connect(db_url) as conn:
        row = store.pauses(conn)["nightly"]
    assert (row["reason"], row["actor"]) == ("incident 42", "ops@test")
    assert row["until_time"] is not None
    event = _revisions(db_url)[-1]
    assert (event["kind"], event["changed_names"], event["note"]) == (
        "pause",
        ["nightly"],
        "incident 42",
    )

    # An apply that changes the paused schedule keeps it paused, and says so.
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES.replace("0 3", "0 4"))
    applied = _syncd(tmp_path, db_url, "apply")
    assert applied.returncode == 0, applied.stderr
    assert "Paused at runtime" in applied.stdout and "nightly (incident 42" in applied.stdout
    plan = _json(_syncd(tmp_path, db_url, "plan", "--format", "json"))
    assert plan["changes"] == [] and [p["name"] for p in plan["paused"]] == ["nightly"]
    status = _json(_status(tmp_path, db_url))
    assert [p["name"] for p in status["paused"]] == ["nightly"]

    resumed = _json(_syncd(tmp_path, db_url, "resume", "nightly", "often", "--format", "json"))
    assert resumed["not_paused"] == ["often"]
    with store.connect(db_url) as conn:
        assert store.pauses(conn) == {}
    assert [r["kind"] for r in _revisions(db_url)] == [None, "pause", None, "resume"]
    assert _revisions(db_url)[-1]["changed_names"] == ["nightly"]
    # Resuming what is not paused writes nothing.
    assert _syncd(tmp_path, db_url, "resume", "often").returncode == 0
    assert len(_revisions(db_url)) == 4


def _status(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    done = _syncd(tmp_path, url, "status", "--format", "json")
    assert done.returncode == 6  # no beat leads here: unhealthy, reported all the same
    return subprocess.CompletedProcess(done.args, 0, done.stdout, done.stderr)


def test_an_unknown_name_or_a_bad_until_changes_nothing(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    assert _syncd(tmp_path, db_url, "apply").returncode == 0
    typo = _syncd(tmp_path, db_url, "pause", "nightly", "nightyl", "--reason", "x")
    assert typo.returncode == 1
    assert "no schedule named 'nightyl'" in typo.stderr and "did you mean 'nightly'" in typo.stderr
    past = _syncd(
        tmp_path, db_url, "pause", "nightly", "--reason", "x", "--until", "2001-01-01T00:00:00Z"
    )
    assert past.returncode == 64 and "not in the future" in past.stderr
    empty = _syncd(tmp_path, db_url, "pause", "nightly", "--reason", " ")
    assert empty.returncode == 64
    with store.connect(db_url) as conn:
        assert store.pauses(conn) == {}
    assert len(_revisions(db_url)) == 1

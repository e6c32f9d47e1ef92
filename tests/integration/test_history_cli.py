"""`syncd history` and `syncd rollback --to REV` through the real CLI, on SQLite and
PostgreSQL: the revisions listed and shown, a rollback that makes the plan of the old files
empty and records itself, pause revisions passed over and pauses left alone, a history
that cannot be worked back refused with nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, insert, select, text

from celeryapp.models import Pause, Revision, TaskSchedule
from syncd.cli import main

pytestmark = pytest.mark.integration

V1 = """version: 1
defaults: {queue: reports}
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    timezone: Europe/Berlin
  - name: heartbeat
    task: health.ping
    every: 30s
  - name: weekly
    task: reports.weekly
    cron: "0 5 * * 1"
    args: [1, "x"]
"""
# Updates nightly and heartbeat, creates fresh, deletes weekly.
V2 = """version: 1
defaults: {queue: reports}
schedules:
  - name: nightly
    task: reports.send
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    enabled: false
  - name: heartbeat
    task: health.ping
    every: 1m
    priority: 3
  - name: fresh
    task: reports.fresh
    every: 10m
"""


def syncd(db_url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(
        main,
        ["--database-url", db_url, *args],
        env={"SYNCD_GIT_COMMIT": "0123456789abcdef", "SYNCD_ACTOR": "ops@test"},
        catch_exceptions=False,
    )
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def write(folder: Path, body: str) -> str:
    (folder / "schedules").mkdir(exist_ok=True)
    path = folder / "schedules" / "a.yaml"
    path.write_text(body)
    return str(folder / "schedules")


def rows(db_url: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(select(TaskSchedule.__table__).order_by(text("name")))
            return [dict(r) for r in found.mappings()]
    finally:
        engine.dispose()


def schedule_columns(db_url: str) -> dict[str, tuple[Any, ...]]:
    keep = ("task", "crontab", "interval_every", "enabled", "priority", "args", "queue")
    return {r["name"]: tuple(r[k] for k in keep) for r in rows(db_url)}


def insert_row(db_url: str, table: Any, **values: Any) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values(**values))
    finally:
        engine.dispose()


def pauses(db_url: str) -> list[dict[str, Any]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(Pause.__table__)).mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def applied(db_url: str, tmp_path: Path) -> tuple[str, Path]:
    """v1 applied (revision 1), then v2 (revision 2); the files hold v2."""
    syncd(db_url, "apply", write(tmp_path, V1))
    syncd(db_url, "apply", write(tmp_path, V2))
    return db_url, tmp_path


def test_history_lists_both_revisions_newest_first(applied: tuple[str, Path]) -> None:
    db_url, _ = applied
    listed = as_json(syncd(db_url, "history", "--format", "json"))["revisions"]
    assert [r["revision"] for r in listed] == [2, 1]
    assert {r["kind"] for r in listed} == {"apply"}
    assert listed[0]["summary"] == {"create": 1, "update": 2, "delete": 1, "unchanged": 0}
    assert listed[1]["summary"] == {"create": 3, "update": 0, "delete": 0, "unchanged": 0}
    assert listed[0]["commit"] == "0123456789abcdef"
    assert listed[0]["actor"] == "ops@test"
    assert listed[0]["time"].endswith("Z")
    assert set(listed[0]) == {
        "revision", "time", "kind", "commit", "author", "subject", "actor", "summary", "note",
        "scope",
    }  # fmt: skip
    only = as_json(syncd(db_url, "history", "-n", "1", "--format", "json"))["revisions"]
    assert [r["revision"] for r in only] == [2]
    out = syncd(db_url, "history").stdout
    assert out.splitlines()[0].split()[:6] == [
        "revision", "time", "kind", "commit", "actor", "changes"
    ]  # fmt: skip
    assert "0123456" in out and "+1 ~2 -1" in out and "+3 ~0 -0" in out


def test_history_rev_shows_the_field_changes(applied: tuple[str, Path]) -> None:
    db_url, _ = applied
    shown = as_json(syncd(db_url, "history", "2", "--format", "json"))["revision"]
    assert shown["revision"] == 2
    changes = {c["name"]: c for c in shown["changes"]}
    assert changes["nightly"]["action"] == "update"
    assert changes["nightly"]["fields"]["cron"] == {"old": "0 2 * * *", "new": "0 3 * * *"}
    assert changes["heartbeat"]["fields"]["priority"] == {"old": None, "new": 3}
    assert changes["fresh"]["action"] == "create"
    assert changes["weekly"]["fields"]["task"] == {"old": "reports.weekly", "new": None}
    out = syncd(db_url, "history", "2").stdout
    assert "~ nightly" in out and '~ cron: "0 2 * * *" -> "0 3 * * *"' in out
    assert "+ fresh" in out and "- weekly" in out and '- task: "reports.weekly"' in out
    assert "~ priority: (unset) -> 3" in out
    for fmt in ("markdown", "github"):
        assert "nightly" in syncd(db_url, "history", "2", "--format", fmt).stdout


def test_unknown_revisions_are_usage_errors(applied: tuple[str, Path]) -> None:
    db_url, _ = applied
    before = schedule_columns(db_url)
    assert "no revision 9" in syncd(db_url, "history", "9", code=64).stderr
    assert "no revision 9" in syncd(db_url, "rollback", "--to", "9", code=64).stderr
    assert schedule_columns(db_url) == before


def test_rollback_puts_v1_back_and_records_itself(applied: tuple[str, Path]) -> None:
    db_url, folder = applied
    at_v2 = schedule_columns(db_url)
    dry = as_json(syncd(db_url, "rollback", "--to", "1", "--dry-run", "--format", "json"))
    assert dry["summary"] == {"create": 1, "update": 2, "delete": 1, "unchanged": 0}
    assert dry["applied"] is False and dry["revision"] is None
    assert schedule_columns(db_url) == at_v2  # a dry run changes nothing

    done = as_json(syncd(db_url, "rollback", "--to", "1", "--format", "json"))
    assert done["revision"] == 3 and done["rollback_to"] == 1
    actions = {c["name"]: c["action"] for c in done["changes"]}
    assert actions == {
        "fresh": "delete", "heartbeat": "update", "nightly": "update", "weekly": "create"
    }  # fmt: skip

    # The plan of v1's files is empty; that of v2's (still in git) shows the drift.
    v1 = write(folder, V1)
    syncd(db_url, "plan", "--detailed-exitcode", v1, code=0)
    v2 = write(folder, V2)
    drift = as_json(syncd(db_url, "plan", "--format", "json", v2))
    assert drift["summary"] == {"create": 1, "update": 2, "delete": 1, "unchanged": 0}

    latest = as_json(syncd(db_url, "history", "--format", "json"))["revisions"][0]
    assert latest["revision"] == 3
    assert latest["kind"] == "rollback"
    assert latest["note"] == "rollback to revision 1"
    assert latest["commit"] is None

    # A rollback is history too: rolling back to 2 undoes it.
    syncd(db_url, "rollback", "--to", "2")
    assert schedule_columns(db_url) == at_v2
    # Nothing to do at the current revision.
    current = as_json(syncd(db_url, "history", "-n", "1", "--format", "json"))["revisions"][0]
    out = syncd(db_url, "rollback", "--to", str(current["revision"])).stdout
    assert out.startswith("Nothing to do")


def test_rollback_over_a_pause_leaves_the_pause_alone(applied: tuple[str, Path]) -> None:
    db_url, folder = applied
    at_v2 = schedule_columns(db_url)
    # What `syncd pause` writes: a pause row, and a revision of kind pause naming the row.
    insert_row(
        db_url,
        Pause.__table__,
        name="nightly",
        reason="incident 42",
        actor="ops@test",
        paused_time=datetime(2026, 12, 1, tzinfo=UTC),
    )
    insert_row(
        db_url,
        Revision.__table__,
        created_time=datetime(2026, 12, 1, tzinfo=UTC),
        actor="ops@test",
        changed_names=["nightly"],
        summary={},
        changes=None,
        kind="pause",
        note="incident 42",
    )
    paused = pauses(db_url)
    # Only a pause after revision 2: nothing to undo.
    assert syncd(db_url, "rollback", "--to", "2").stdout.startswith("Nothing to do")
    # v1 applied over the pause (revision 4); back to 3 (the pause) gives v2 again.
    syncd(db_url, "apply", write(folder, V1))
    done = as_json(syncd(db_url, "rollback", "--to", "3", "--format", "json"))
    assert done["revision"] == 5
    assert schedule_columns(db_url) == at_v2
    # Back to 1 walks over the pause revision too.
    syncd(db_url, "rollback", "--to", "1")
    syncd(db_url, "plan", "--detailed-exitcode", write(folder, V1), code=0)
    assert pauses(db_url) == paused
    shown = syncd(db_url, "history", "3").stdout
    assert "revision 3 (pause)" in shown and "names: nightly" in shown


def test_a_revision_without_changes_refuses_the_rollback(applied: tuple[str, Path]) -> None:
    db_url, _ = applied
    # An apply recorded before syncd kept changes (changes is null).
    insert_row(
        db_url,
        Revision.__table__,
        created_time=datetime(2026, 12, 1, tzinfo=UTC),
        actor="old",
        changed_names=["nightly"],
        summary={"create": 0, "update": 1, "delete": 0, "unchanged": 2},
        changes=None,
    )
    before = rows(db_url)
    err = syncd(db_url, "rollback", "--to", "1", code=64).stderr
    assert "revision 3 recorded no field changes" in err
    assert "nothing was changed" in err
    assert rows(db_url) == before
    listed = as_json(syncd(db_url, "history", "--format", "json"))["revisions"]
    assert [r["revision"] for r in listed] == [3, 2, 1]
    assert "not recorded" in syncd(db_url, "history", "3").stdout

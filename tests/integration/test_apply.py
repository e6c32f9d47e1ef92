"""`syncd apply` against the real PostgreSQL and SQLite, with the real Redis signal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from celeryapp.models import Revision, TaskSchedule
from syncd import store
from syncd.cli import main
from syncd.store.transaction import mysql_lock_name
from syncd.sync import Options, apply, plan
from tests.corpus import INVALID_CASES

pytestmark = pytest.mark.integration
SYNCD = str(Path(sys.executable).with_name("syncd"))

A = """version: 1
defaults: {queue: reports}
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    timezone: Europe/Berlin
  - name: heartbeat
    task: health.ping
    every: 30s
"""


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [SYNCD, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


def dump(url: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not store.has_schema(conn):
                return []
            rows = conn.execute(select(TaskSchedule.__table__).order_by(text("name")))
            revs = conn.execute(select(Revision.__table__).order_by(text("id")))
            return [dict(r) for r in rows.mappings()] + [dict(r) for r in revs.mappings()]
    finally:
        engine.dispose()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(A)
    return tmp_path


def test_apply_creates_then_noop_records_no_revision(db_url: str, tree: Path) -> None:
    out = run("--database-url", db_url, "apply", "--format", "json", cwd=tree)
    data = json.loads(out.stdout)
    assert data["revision"] == 1
    assert data["summary"] == {"create": 2, "update": 0, "delete": 0, "unchanged": 0}
    again = json.loads(run("--database-url", db_url, "apply", "--format", "json", cwd=tree).stdout)
    assert again["revision"] is None and again["changes"] == []
    rows = dump(db_url)
    assert [r["name"] for r in rows if "task" in r] == ["heartbeat", "nightly"]
    assert len([r for r in rows if "git_commit" in r]) == 1
    nightly = next(r for r in rows if r.get("name") == "nightly")
    assert (
        nightly["managed"]
        and nightly["queue"] == "reports"
        and nightly["source"] == ("schedules/a.yaml:4")
    )
    assert nightly["crontab"] == "0 2 * * *" and nightly["timezone"] == "Europe/Berlin"


def test_update_delete_and_detailed_exitcode(db_url: str, tree: Path) -> None:
    run("--database-url", db_url, "apply", cwd=tree)
    run("--database-url", db_url, "plan", "--detailed-exitcode", cwd=tree, check=0)
    (tree / "schedules" / "a.yaml").write_text(
        A.replace("30s", "45s").replace(
            '  - name: nightly\n    task: reports.send\n    cron: "0 2 * * *"\n'
            "    timezone: Europe/Berlin\n",
            "",
        )
    )
    pending = run(
        "--database-url",
        db_url,
        "plan",
        "--detailed-exitcode",
        "--format",
        "json",
        cwd=tree,
        check=2,
    )
    changes = json.loads(pending.stdout)["changes"]
    assert [(c["action"], c["name"]) for c in changes] == [
        ("update", "heartbeat"),
        ("delete", "nightly"),
    ]
    assert changes[0]["fields"] == {"every": {"old": "30s", "new": "45s"}}
    kept = run("--database-url", db_url, "apply", "--no-prune", "--format", "json", cwd=tree)
    assert json.loads(kept.stdout)["summary"]["delete"] == 0
    run("--database-url", db_url, "apply", cwd=tree)
    assert [r["name"] for r in dump(db_url) if "task" in r] == ["heartbeat"]
    # The revisions' change lists: creates name their source only (the row holds the
    # values), updates keep old and new, deletes keep the old values.
    revisions = [r["changes"] for r in dump(db_url) if "git_commit" in r]
    created, updated, deleted = revisions[0], revisions[1], revisions[2]
    assert all(c["action"] == "create" and "fields" not in c for c in created)
    assert updated == [
        {
            "action": "update",
            "name": "heartbeat",
            "source": updated[0]["source"],
            "fields": {"every": {"old": "30s", "new": "45s"}},
        }
    ]
    assert deleted[0]["action"] == "delete"
    assert deleted[0]["fields"]["cron"] == {"old": "0 2 * * *", "new": None}


def test_drift_is_shown_and_reverted(db_url: str, tree: Path) -> None:
    run("--database-url", db_url, "apply", cwd=tree)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {TaskSchedule.__tablename__} SET interval_every = 5 "
                "WHERE name = 'heartbeat'"
            )
        )
    engine.dispose()
    data = json.loads(run("--database-url", db_url, "plan", "--format", "json", cwd=tree).stdout)
    assert data["changes"] == [
        {
            "action": "update",
            "name": "heartbeat",
            "source": "schedules/a.yaml:8",
            "drift": True,
            "fields": {"every": {"old": "5s", "new": "30s"}},
        }
    ]
    run("--database-url", db_url, "apply", cwd=tree)
    assert (
        json.loads(run("--database-url", db_url, "plan", "--format", "json", cwd=tree).stdout)[
            "changes"
        ]
        == []
    )


def test_rows_made_by_other_means(db_url: str, tree: Path) -> None:
    store.migrate(db_url)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            TaskSchedule.__table__.insert().values(
                name="heartbeat",
                task="legacy.ping",
                type=0,
                interval_every=60,
                interval_period="seconds",
                one_off=False,
                enabled=True,
                total_run_count=3,
                catchup="latest",
                overlap="allow",
                managed=False,
            )
        )
        conn.execute(
            TaskSchedule.__table__.insert().values(
                name="legacy-only",
                task="legacy.x",
                type=1,
                crontab="* * * * *",
                one_off=False,
                enabled=True,
                total_run_count=0,
                catchup="latest",
                overlap="allow",
                managed=False,
            )
        )
    engine.dispose()
    refused = run("--database-url", db_url, "apply", cwd=tree, check=1)
    assert "ownership.unmanaged-row" in refused.stderr and "--adopt" in refused.stderr
    assert "schedules/a.yaml:8:5" in refused.stderr
    run("--database-url", db_url, "apply", "--adopt", cwd=tree)
    rows = {r["name"]: r for r in dump(db_url) if "task" in r}
    assert rows["heartbeat"]["managed"] and rows["heartbeat"]["task"] == "health.ping"
    assert rows["heartbeat"]["total_run_count"] == 3  # run state survives adoption
    assert not rows["legacy-only"]["managed"]  # never pruned: not ours


def test_invalid_corpus_changes_nothing(
    db_url: str, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("--database-url", db_url, "apply", cwd=tree)
    before = dump(db_url)
    # SQLite: the file itself, byte for byte (PostgreSQL: every row and revision, below).
    sqlite_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else None
    before_bytes = sqlite_file.read_bytes() if sqlite_file else b""
    monkeypatch.chdir(tree)
    for i, (path, code, line, column) in enumerate(INVALID_CASES):
        target = tree / "schedules" / "bad.yaml"
        target.write_bytes(path.read_bytes())
        # The CLI in this process (a process each cost ~5 min over three databases); every
        # 12th file still goes through a whole `syncd` process, exit code mapping included.
        if i % 12 == 0:
            stderr = run("--database-url", db_url, "apply", cwd=tree, check=1).stderr
        else:
            result = CliRunner().invoke(
                main, ["--database-url", db_url, "apply"], catch_exceptions=False
            )
            assert result.exit_code == 1, (path, result.exit_code, result.stderr)
            stderr = result.stderr
        assert f"schedules/bad.yaml:{line}:{column}: error[{code}]" in stderr, (path, stderr)
        target.unlink()
        if sqlite_file:
            assert sqlite_file.read_bytes() == before_bytes, path
    assert dump(db_url) == before
    print(
        f"RELIABILITY | invalid corpus file applied ({db_url.split(':', maxsplit=1)[0]}) | "
        f"{len(INVALID_CASES)} | exit 1 at the exact line:column, database unchanged"
    )


def test_revision_recorded_with_commit_and_actor(db_url: str, tree: Path) -> None:
    env = {"SYNCD_GIT_COMMIT": "abc123", "SYNCD_ACTOR": "alice"}
    run("--database-url", db_url, "apply", env=env, cwd=tree)
    revision = next(r for r in dump(db_url) if "git_commit" in r)
    assert (revision["git_commit"], revision["actor"]) == ("abc123", "alice")
    assert sorted(revision["changed_names"]) == ["heartbeat", "nightly"]


def test_plan_on_empty_database_creates_no_tables(pg_url: str, tree: Path) -> None:
    out = run("--database-url", pg_url, "plan", "--format", "json", cwd=tree)
    assert json.loads(out.stdout)["summary"]["create"] == 2
    assert dump(pg_url) == []


def test_redis_signal_set_and_published(
    pg_url: str, tree: Path, redis_url: str, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:revision")
    pubsub.get_message(timeout=1)
    env = {"SYNCD_REDIS_URL": redis_url, "SYNCD_REDIS_PREFIX": redis_prefix}
    run("--database-url", pg_url, "apply", env=env, cwd=tree)
    assert client.get(f"{redis_prefix}:revision") == b"1"
    message = pubsub.get_message(timeout=5)
    assert message is not None and message["data"] == b"1"
    client.set(f"{redis_prefix}:revision", 99)  # never lowered by an older revision
    (tree / "schedules" / "a.yaml").write_text(A.replace("30s", "31s"))
    run("--database-url", pg_url, "apply", env=env, cwd=tree)
    assert client.get(f"{redis_prefix}:revision") == b"99"
    pubsub.close()
    client.close()


def test_redis_down_commits_and_warns(pg_url: str, tree: Path) -> None:
    env = {"SYNCD_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0"}
    out = run("--database-url", pg_url, "apply", env=env, cwd=tree, check=0)
    assert "warning: revision 1 is committed" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout
    print(
        "RELIABILITY | Redis down during apply | 1 | committed, warned, exit 0, password not shown"
    )
    assert len([r for r in dump(pg_url) if "task" in r]) == 2


def test_database_unreachable_exits_3_without_password(tree: Path) -> None:
    out = run("--database-url", "postgresql://bob:s3cret@127.0.0.1:1/x", "apply", cwd=tree, check=3)
    assert "cannot reach the database" in out.stderr and "s3cret" not in out.stderr


def test_lock_timeout_exits_4(server_url: str, tree: Path) -> None:
    store.migrate(server_url)
    holder = create_engine(server_url)
    conn = holder.connect()
    trans = conn.begin()
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SELECT pg_advisory_xact_lock({store.APPLY_LOCK_KEY})"))
    else:
        name = mysql_lock_name(conn, "apply")
        assert conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1
    try:
        started = time.monotonic()
        out = run("--database-url", server_url, "apply", "--lock-timeout", "1", cwd=tree, check=4)
        assert "another apply" in out.stderr
        assert time.monotonic() - started < 60
    finally:
        trans.rollback()
        conn.close()  # a MySQL named lock ends with its session
        holder.dispose()
    run("--database-url", server_url, "apply", cwd=tree, check=0)


def test_concurrent_applies_serialize(server_url: str, tree: Path) -> None:
    store.migrate(server_url)
    results: list[int] = []

    def worker(i: int) -> None:
        folder = tree / f"in{i}"
        folder.mkdir()
        (folder / "s.yaml").write_text(A.replace("30s", f"{i + 1}m"))
        done = run("--database-url", server_url, "apply", str(folder), check=None)
        results.append(done.returncode)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0, 0, 0]
    rows = [r for r in dump(server_url) if "task" in r]
    assert len(rows) == 2
    final = next(r for r in rows if r["name"] == "heartbeat")["interval_every"]
    assert final in {60, 120, 180, 240}
    # the last revision describes the final state: no lost update
    assert (
        json.loads(
            run(
                "--database-url",
                server_url,
                "plan",
                "--format",
                "json",
                str(
                    next(
                        p
                        for p in tree.glob("in*")
                        if f"{final // 60}m" in (p / "s.yaml").read_text()
                    )
                ),
            ).stdout
        )["changes"]
        == []
    )


def test_saved_plan_applies_exactly_or_refuses_when_stale(db_url: str, tree: Path) -> None:
    saved = tree / "plan.json"
    run("--database-url", db_url, "plan", "--out", str(saved), cwd=tree)
    run("--database-url", db_url, "apply", str(saved), cwd=tree, check=0)
    (tree / "schedules" / "a.yaml").write_text(A.replace("30s", "40s"))
    run("--database-url", db_url, "plan", "--out", str(saved), cwd=tree)
    (tree / "schedules" / "a.yaml").write_text(A.replace("30s", "50s"))
    run("--database-url", db_url, "apply", cwd=tree)  # the database moves on
    stale = run("--database-url", db_url, "apply", str(saved), cwd=tree, check=4)
    assert "make a new plan" in stale.stderr


def test_incremental_plan_skips_unchanged_files(db_url: str, tree: Path) -> None:
    for i in range(5):
        (tree / "schedules" / f"f{i}.yaml").write_text(
            f"version: 1\nschedules:\n  - name: job-{i}\n    task: t.x\n    every: {i + 1}m\n"
        )
    options = Options(paths=[str(tree / "schedules")])
    apply(db_url, options, lock_timeout=10)
    with store.connect(db_url) as conn:
        from syncd.sync import plan_from

        _, gathered = plan_from(conn, options, store.current_revision(conn))
    assert (gathered.parsed, gathered.skipped) == (0, 6)
    (tree / "schedules" / "f3.yaml").write_text(
        "version: 1\nschedules:\n  - name: job-3\n    task: t.x\n    every: 9m\n"
    )
    with store.connect(db_url) as conn:
        result, gathered = plan_from(conn, options, store.current_revision(conn))
    assert (gathered.parsed, gathered.skipped) == (1, 5)
    assert [c.name for c in result.changes] == ["job-3"]
    # a row deleted by hand makes its file be read again, and the row comes back
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {TaskSchedule.__tablename__} WHERE name = 'job-1'"))
    engine.dispose()
    result = plan(db_url, options)
    assert [(c.action, c.name) for c in result.changes] == [
        ("create", "job-1"),
        ("update", "job-3"),
    ]


def test_the_pipeline_signals_as_its_last_step(
    tmp_path: Path, sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    """`sync.apply` itself raises the Redis revision after commit (the CLI, watch and serve
    add nothing); a no-op apply tells nothing; an unreachable Redis is a warning through
    `Signal.warn`, and the revision stays committed."""
    from celeryapp.settings import revision_key
    from syncd.sync import Signal

    (tmp_path / "a.yaml").write_text(A)
    client = redis.Redis.from_url(redis_url)
    options = Options(paths=[str(tmp_path)], signal=Signal(redis_url, redis_prefix))
    _, revision = apply(sqlite_url, options, lock_timeout=5)
    assert revision is not None
    assert int(client.get(revision_key(redis_prefix)) or 0) == revision

    client.set(revision_key(redis_prefix), "0")
    _, again = apply(sqlite_url, options, lock_timeout=5)
    assert again is None
    assert int(client.get(revision_key(redis_prefix)) or 0) == 0  # a no-op tells nothing

    warnings: list[str] = []
    (tmp_path / "a.yaml").write_text(A.replace("30s", "45s"))
    gone = Signal("redis://127.0.0.1:1/0", redis_prefix, warn=warnings.append)
    _, third = apply(sqlite_url, Options(paths=[str(tmp_path)], signal=gone), lock_timeout=5)
    assert third == revision + 1
    assert len(warnings) == 1
    assert f"revision {third} is committed" in warnings[0]
    with store.connect(sqlite_url) as conn:
        assert store.current_revision(conn) == third

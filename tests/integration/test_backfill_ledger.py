"""`syncd backfill` against real databases and a real Redis broker: every due time of the
range reaches the broker once, counted per task id on the broker itself, with two
backfills racing and some due times already sent by the beat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from celeryapp import runstore
from celeryapp.app import make_app
from celeryapp.schedules import task_id
from celeryapp.settings import Settings
from syncd import store

pytestmark = pytest.mark.integration

SYNCD = str(Path(sys.executable).with_name("syncd"))
REDIS = "redis://127.0.0.1:6379/0"


def _env(url: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(
        SYNCD_DATABASE_URL=url,
        CELERY_BROKER_URL=REDIS,
        CELERY_BROKER_PREFIX=prefix,
        SYNCD_ACTOR="ops@test",
    )
    return env


def _syncd(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNCD, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


def _broker_messages(prefix: str) -> Counter[str]:
    """Task ids of every message on the default queue, taken off as a worker would."""
    app = make_app(
        Settings.from_env(
            {
                "SYNCD_DATABASE_URL": "sqlite:///:memory:",
                "CELERY_BROKER_URL": REDIS,
                "CELERY_BROKER_PREFIX": prefix,
            }
        )
    )
    seen: Counter[str] = Counter()
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get("celery", no_ack=True)) is not None:
            seen[message.headers["id"]] += 1
    app.close()
    return seen


def test_two_racing_backfills_send_each_missing_due_time_once(
    db_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=30)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: sync-crm\n    task: celeryapp.tasks.echo\n"
        f'    every: 1m\n    start_time: "{start.isoformat()}"\n    expire_seconds: 600\n'
    )
    env = _env(db_url, redis_prefix)
    applied = _syncd(tmp_path, env, "apply")
    assert applied.returncode == 0, applied.stderr

    # The beat sent five of them before it stopped: claimed and published in the ledger.
    beat_sent = [start + timedelta(minutes=m) for m in range(5)]
    engine = runstore.new_engine(db_url)
    with engine.begin() as conn:
        runstore.claim(
            conn,
            [("sync-crm", d, task_id("sync-crm", d)) for d in beat_sent],
            holder="beat",
            now=now,
        )
        runstore.mark_published(conn, [("sync-crm", d) for d in beat_sent], when=now)
        runstore.write_run_state(conn, [("sync-crm", d) for d in beat_sent])

    args = ("backfill", "sync-crm", "--from", start.isoformat(), "--to", now.isoformat())
    dry = _syncd(tmp_path, env, *args, "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert len(planned["sent"]) == 26 and len(planned["already_dispatched"]) == 5
    assert _broker_messages(redis_prefix) == Counter()  # a dry run sends nothing

    racers = [
        subprocess.Popen(
            [SYNCD, *args, "--rate", "0", "--format", "json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        reports.append(json.loads(out))

    on_broker = _broker_messages(redis_prefix)
    expected = {task_id("sync-crm", start + timedelta(minutes=m)) for m in range(5, 31)}
    assert set(on_broker) == expected
    assert set(on_broker.values()) == {1}  # each once, whoever won its claim
    assert sorted(reports[0]["sent"] + reports[1]["sent"]) == sorted(expected)

    with engine.connect() as conn:
        row = store.schedule_row(conn, "sync-crm")
        assert row is not None
        # Every run counted, though the backfills sent them older than the beat's last and
        # out of order; the last run time never went back.
        assert row["total_run_count"] == 31
        assert row["last_run_time"] == start + timedelta(minutes=30)
        assert (
            runstore.unpublished(
                conn, claimed_before=now + timedelta(hours=1), since=start - timedelta(days=1)
            )
            == []
        )
    engine.dispose()

    again = _syncd(tmp_path, env, *args, "--rate", "0")
    assert again.returncode == 0, again.stderr
    assert "sent 0, already dispatched 31" in again.stdout
    assert _broker_messages(redis_prefix) == Counter()


def test_unknown_schedule_and_bad_ranges_change_nothing(
    sqlite_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = _env(sqlite_url, redis_prefix)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: nightly\n    task: t.x\n    cron: '0 3 * * *'\n"
    )
    assert _syncd(tmp_path, env, "apply").returncode == 0
    now = datetime.now(UTC)
    unknown = _syncd(
        tmp_path, env, "backfill", "nightlyy", "--from", (now - timedelta(days=1)).isoformat()
    )
    assert unknown.returncode == 1
    assert "no schedule named 'nightlyy'" in unknown.stderr and "nightly" in unknown.stderr
    old = _syncd(tmp_path, env, "backfill", "nightly", "--from", "2020-01-01T00:00:00Z")
    assert old.returncode == 64 and "SYNCD_LEDGER_RETENTION_DAYS" in old.stderr
    many = _syncd(
        tmp_path,
        env,
        "backfill",
        "nightly",
        "--from",
        (now - timedelta(days=5)).isoformat(),
        "--max",
        "2",
    )
    assert many.returncode == 64 and "more than 2 due times" in many.stderr
    assert _broker_messages(redis_prefix) == Counter()

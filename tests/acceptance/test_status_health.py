"""`syncd status` as a health check, with a real beat: 0 while it leads, 6 once it is
killed, 6 with drift, 3 when Redis cannot be reached (DESIGN §9). On the embedded default
(SQLite lease, no Redis), on PostgreSQL + Redis and on MariaDB + Redis (the lock and the
heartbeat key)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.acceptance.beat_process import beats
from tests.celery_worker import wait_for, worker_env
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.faults.servers import free_port
from tests.probes import apply

SYNCD = str(Path(sys.executable).with_name("syncd"))
BEAT = {"SYNCD_BEAT_LOCK_TTL": "2", "SYNCD_BEAT_MAX_INTERVAL": "0.5"}
SCHEDULES = """  - name: tick
    task: celeryapp.tasks.echo
    every: 1h
"""


@pytest.fixture(params=["embedded", "postgresql+redis", "mariadb+redis"])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[dict[str, str]]:
    if request.param == "embedded":
        yield worker_env(
            f"sqlite:///{tmp_path / 'syncd.db'}",
            None,
            redis_prefix,
            SYNCD_BROKER_DIR=str(tmp_path / "broker"),
            **BEAT,
        )
        return
    create, drop = (
        (create_pg_database, drop_pg_database)
        if request.param == "postgresql+redis"
        else (create_mysql_database, drop_mysql_database)
    )
    name, url = create()
    try:
        yield worker_env(url, redis_url, redis_prefix, **BEAT)
    finally:
        drop(name)


def status(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [SYNCD, "status", "--format", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 3, 6), (done.returncode, done.stdout, done.stderr)
    return done.returncode, json.loads(done.stdout)


def _drift(env: dict[str, str]) -> None:
    url = env["SYNCD_DATABASE_URL"]
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE sys_task_scheduler SET queue = 'by-hand' WHERE name = 'tick'")
        return
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("UPDATE sys_task_scheduler SET queue = 'by-hand' WHERE name = 'tick'"))
    engine.dispose()


def test_status_follows_the_beat_and_the_drift(env: dict[str, str], tmp_path: Path) -> None:
    apply(env, tmp_path / "schedules", SCHEDULES)
    code, report = status(env)
    assert code == 6 and report["health"]["problems"] == ["no beat leads"], report
    with beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        code, report = wait_for(
            lambda: (r := status(env))[0] == 0 and r, 30, what="status to say healthy"
        )
        assert report["health"] == {"healthy": True, "problems": [], "unreachable": False}
        assert report["beat"]["leader"] and report["beat"]["heartbeat_age_seconds"] < 30
        _drift(env)
        code, report = status(env)
        assert code == 6 and report["health"]["problems"] == ["drift: tick"], report
        apply(env, tmp_path / "schedules")  # reverts the drift
        assert status(env)[0] == 0
        beat.kill9()
        # The lock (Redis) or the lease (SQLite) runs out within its TTL of 2 s.
        code, report = wait_for(
            lambda: (r := status(env))[0] == 6 and r, 30, what="status to see no beat"
        )
        assert report["health"]["problems"] == ["no beat leads"], report


def test_status_cannot_reach_redis_exits_3(tmp_path: Path, redis_prefix: str) -> None:
    env = worker_env(
        f"sqlite:///{tmp_path / 'syncd.db'}",
        f"redis://127.0.0.1:{free_port()}/0",
        redis_prefix,
        SYNCD_BROKER_DIR=str(tmp_path / "broker"),
    )
    apply(env, tmp_path / "schedules", SCHEDULES)
    code, report = status(env)
    assert code == 3, report
    assert "Redis unreachable" in report["health"]["problems"][0]

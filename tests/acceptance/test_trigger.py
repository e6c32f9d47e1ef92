"""`syncd trigger NAME [--wait]` as a user runs it: a subprocess, a real worker, real services."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from celeryapp.models import TaskSchedule
from syncd.spec import Schedule, row_values
from syncd.store import migrate
from tests.celery_worker import celery_worker, worker_env

pytestmark = pytest.mark.acceptance

SYNCD = str(Path(sys.executable).with_name("syncd"))


def syncd_trigger(env: dict[str, str], *args: str, timeout: float = 120) -> Any:
    return subprocess.run(
        [SYNCD, "trigger", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def insert(url: str, *schedules: Schedule) -> None:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        for schedule in schedules:
            session.add(TaskSchedule(**row_values(schedule), managed=True))
    engine.dispose()


REPORT = Schedule(
    name="nightly-report",
    task="celeryapp.tasks.echo",
    cron="0 2 * * *",
    args=(1, "x"),
    kwargs={"to": "ops"},
)
ELSEWHERE = Schedule(name="elsewhere", task="celeryapp.tasks.echo", every=60, queue="reports")
EXPIRED = Schedule(
    name="old-report",
    task="celeryapp.tasks.echo",
    cron="0 2 * * *",
    expires=datetime.now(UTC) - timedelta(days=1),
)


@pytest.fixture
def env(server_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    migrate(server_url)
    insert(server_url, REPORT, ELSEWHERE, EXPIRED)
    return worker_env(server_url, redis_url, redis_prefix)


def test_trigger_prints_the_task_id_and_with_wait_the_result(
    env: dict[str, str], tmp_path: Path
) -> None:
    with celery_worker(env, tmp_path):
        sent = syncd_trigger(env, "nightly-report")
        waited = syncd_trigger(env, "nightly-report", "--wait", "--timeout", "60")
        as_json = syncd_trigger(env, "nightly-report", "--wait", "--format", "json")
    assert sent.returncode == 0, sent.stderr
    assert re.fullmatch(r"nightly-report@manual-[0-9a-f]{32}\n", sent.stdout)
    assert waited.returncode == 0, waited.stderr
    task_id, result_line = waited.stdout.splitlines()
    assert task_id.startswith("nightly-report@manual-")
    assert task_id != sent.stdout.strip()
    assert result_line == 'SUCCESS {"args": [1, "x"], "kwargs": {"to": "ops"}}'
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["state"] == "SUCCESS"
    assert report["result"] == {"args": [1, "x"], "kwargs": {"to": "ops"}}
    assert report["schedule"] == "nightly-report"
    assert report["task"] == "celeryapp.tasks.echo"


def test_trigger_warns_when_no_worker_consumes_the_schedule_s_queue(
    env: dict[str, str], tmp_path: Path
) -> None:
    with celery_worker(env, tmp_path):
        out = syncd_trigger(env, "elsewhere")
    assert out.returncode == 0, out.stderr
    assert "consumes queue 'reports'" in out.stderr
    assert out.stdout.startswith("elsewhere@manual-")


def test_trigger_sends_to_the_schedule_s_queue(env: dict[str, str], tmp_path: Path) -> None:
    args = ["-Q", "reports", "-n", "reports@%h", "-l", "info", "--without-mingle"]
    with celery_worker(env, tmp_path, args=args):
        out = syncd_trigger(env, "elsewhere", "--wait")
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr
    assert out.stdout.splitlines()[1] == 'SUCCESS {"args": [], "kwargs": {}}'


def test_trigger_without_a_worker_exits_3(env: dict[str, str]) -> None:
    out = syncd_trigger(env, "nightly-report", timeout=60)
    assert out.returncode == 3, out.stderr
    assert "no Celery worker answered" in out.stderr
    assert out.stdout == ""


def test_trigger_of_an_unknown_schedule_exits_1_with_a_suggestion(
    env: dict[str, str],
) -> None:
    out = syncd_trigger(env, "nightly-reprot", timeout=60)
    assert out.returncode == 1, out.stderr
    assert "no schedule named 'nightly-reprot'" in out.stderr
    assert "did you mean 'nightly-report'?" in out.stderr


def test_trigger_of_an_expired_schedule_exits_1(env: dict[str, str]) -> None:
    out = syncd_trigger(env, "old-report", timeout=60)
    assert out.returncode == 1, out.stderr
    assert "expired" in out.stderr


def test_trigger_when_the_broker_is_down_exits_3(env: dict[str, str]) -> None:
    down = {**env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    out = syncd_trigger(down, "nightly-report", timeout=60)
    assert out.returncode == 3, out.stderr
    assert "cannot reach the broker" in out.stderr


def test_trigger_reads_the_global_database_option(env: dict[str, str], server_url: str) -> None:
    bare = {k: v for k, v in env.items() if k != "SYNCD_DATABASE_URL"}
    out = subprocess.run(
        [SYNCD, "--database-url", server_url, "trigger", "nightly-reprot"],
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert "did you mean 'nightly-report'?" in out.stderr

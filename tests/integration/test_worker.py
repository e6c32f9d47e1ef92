"""A real gevent worker against Redis (broker, per-test prefix), PostgreSQL or MariaDB (results).

One worker per test keeps the tests independent; each checks one guarantee of the task
base class end to end, through real messages with the headers the beat sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from celeryapp.base import SKIPPED
from celeryapp.settings import executed_key
from syncd.store import migrate
from tests.celery_worker import celery_worker, client_app, wait_for, worker_env
from tests.conftest import RABBITMQ_URL

pytestmark = [pytest.mark.integration, pytest.mark.acceptance]

DUE = "2026-03-08T07:00:00Z"


def beat_headers(schedule: str, overlap: str = "allow", due: str = DUE) -> dict[str, str]:
    return {"syncd_schedule": schedule, "syncd_due": due, "syncd_overlap": overlap}


@pytest.fixture
def env(server_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return worker_env(server_url, redis_url, redis_prefix)


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Any]:
    celery = client_app(env)
    try:
        yield celery
    finally:
        celery.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def taskmeta(database_url: str, task_id: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM celery_taskmeta WHERE task_id = :id"), {"id": task_id}
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def test_echo_result_is_in_the_result_backend_with_extended_fields(
    env: dict[str, str], app: Any, tmp_path: Path, server_url: str
) -> None:
    with celery_worker(env, tmp_path) as worker:
        result = app.send_task("celeryapp.tasks.echo", [1, "two"], {"three": 3})
        assert result.get(timeout=60) == {"args": [1, "two"], "kwargs": {"three": 3}}
    row = taskmeta(server_url, result.id)
    assert row["status"] == "SUCCESS"
    assert row["name"] == "celeryapp.tasks.echo"
    assert json.loads(row["args"]) == [1, "two"]
    assert json.loads(row["kwargs"]) == {"three": 3}
    assert row["worker"].startswith(worker.hostname.split("%h")[0])
    assert row["queue"] == "celery"
    assert row["retries"] == 0
    # JSON, never pickle (fba W15): the stored result is readable text.
    assert json.loads(row["result"]) == {"args": [1, "two"], "kwargs": {"three": 3}}


def test_beat_headers_reach_the_task(env: dict[str, str], app: Any, tmp_path: Path) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:probe"
    with celery_worker(env, tmp_path):
        result = app.send_task(
            "celeryapp.tasks.probe",
            [key],
            task_id=f"report@{DUE}",
            headers=beat_headers("report"),
        )
        out = result.get(timeout=60)
    assert (out["schedule"], out["due"]) == ("report", DUE)


@pytest.mark.parametrize("expires", [None, 600], ids=["no-expiry", "expiry"])
def test_a_duplicate_beat_task_id_runs_once(
    env: dict[str, str], app: Any, tmp_path: Path, r: redis.Redis[bytes], expires: int | None
) -> None:
    # Messages with an expiry take another path through the worker (checked on receipt).
    prefix = env["SYNCD_REDIS_PREFIX"]
    key = f"{prefix}:runs"
    task_id = f"report@{DUE}"
    options = {"task_id": task_id, "headers": beat_headers("report"), "expires": expires}
    with celery_worker(env, tmp_path) as worker:
        first = app.send_task("celeryapp.tasks.probe", [key], **options)
        first_out = first.get(timeout=60)
        app.send_task("celeryapp.tasks.probe", [key], **options)
        wait_for(lambda: "skipped duplicate delivery" in worker.log(), 60)
        log = worker.log()
    assert r.llen(key) == 1
    assert f"[schedule=report due={DUE}] skipped duplicate delivery of {task_id}" in log
    # The original run's result is kept, not overwritten by the duplicate.
    assert app.AsyncResult(task_id).result == first_out
    assert r.exists(executed_key(prefix, task_id))


def test_manual_runs_and_plain_tasks_are_not_deduplicated(
    env: dict[str, str], app: Any, tmp_path: Path, r: redis.Redis[bytes]
) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:runs"
    manual = {"syncd_schedule": "report", "syncd_trigger": "manual", "syncd_overlap": "allow"}
    with celery_worker(env, tmp_path):
        for _ in range(2):
            app.send_task("celeryapp.tasks.probe", [key], task_id="same-id").get(timeout=60)
        for _ in range(2):
            app.send_task(
                "celeryapp.tasks.probe", [key], task_id="report@manual-1", headers=manual
            ).get(timeout=60)
    assert r.llen(key) == 4


@pytest.mark.parametrize("task", ["celeryapp.tasks.flaky_db", "celeryapp.tasks.async_flaky_db"])
def test_transient_database_errors_are_retried_and_not_blocked_by_once_only(
    env: dict[str, str], app: Any, tmp_path: Path, server_url: str, task: str
) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:attempts"
    task_id = f"flaky@{DUE}"
    with celery_worker(env, tmp_path) as worker:
        result = app.send_task(task, [key, 2], task_id=task_id, headers=beat_headers("flaky"))
        assert result.get(timeout=90) == {"attempts": 3}
        log = worker.log()
    assert "retry 1/5" in log
    assert "retry 2/5" in log
    assert f"[schedule=flaky due={DUE}] transient database error" in log
    assert taskmeta(server_url, task_id)["retries"] == 2


def test_retries_stop_at_the_maximum(
    env: dict[str, str], app: Any, tmp_path: Path, r: redis.Redis[bytes]
) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:attempts"
    env = {**env, "SYNCD_TASK_MAX_RETRIES": "2"}
    with celery_worker(env, tmp_path):
        result = app.send_task("celeryapp.tasks.flaky_db", [key, 10])
        wait_for(lambda: result.state == "FAILURE", 90, what="the task to fail")
    assert int(r.get(key) or 0) == 3  # the first run and two retries


def test_a_non_transient_error_is_not_retried(
    env: dict[str, str], app: Any, tmp_path: Path
) -> None:
    with celery_worker(env, tmp_path) as worker:
        result = app.send_task("celeryapp.tasks.sleep", ["not a number"])
        wait_for(lambda: result.state == "FAILURE", 60, what="the task to fail")
        assert "retry" not in worker.log().lower()


def test_overlap_skip_drops_a_run_while_the_previous_one_runs(
    env: dict[str, str], app: Any, tmp_path: Path, r: redis.Redis[bytes]
) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:runs"
    headers = beat_headers("slow", overlap="skip")
    with celery_worker(env, tmp_path) as worker:
        first = app.send_task("celeryapp.tasks.probe", [key, 4], task_id="slow@1", headers=headers)
        wait_for(lambda: first.state == "STARTED", 60, what="the first run to start")
        second = app.send_task("celeryapp.tasks.probe", [key, 0], task_id="slow@2", headers=headers)
        wait_for(lambda: second.state == SKIPPED, 60, what="the second run to be dropped")
        assert second.result == {"reason": "overlap", "schedule": "slow", "due": DUE}
        first.get(timeout=60)
        # Once the first run is over, the schedule runs again.
        third = app.send_task("celeryapp.tasks.probe", [key, 0], task_id="slow@3", headers=headers)
        third.get(timeout=60)
        log = worker.log()
    assert r.llen(key) == 2
    assert "[schedule=slow due=" in log
    assert "still executing (overlap: skip)" in log
    assert not r.exists(f"{env['SYNCD_REDIS_PREFIX']}:running:slow")


def test_overlap_allow_runs_concurrently(
    env: dict[str, str], app: Any, tmp_path: Path, r: redis.Redis[bytes]
) -> None:
    key = f"{env['SYNCD_REDIS_PREFIX']}:runs"
    headers = beat_headers("slow", overlap="allow")
    with celery_worker(env, tmp_path):
        results = [
            app.send_task("celeryapp.tasks.probe", [key, 2], task_id=f"slow@{i}", headers=headers)
            for i in range(2)
        ]
        outs = [res.get(timeout=60) for res in results]
    assert r.llen(key) == 2
    assert max(o["started"] for o in outs) < min(o["finished"] for o in outs)


def test_without_redis_once_only_uses_the_database_and_the_embedded_broker(
    server_url: str, tmp_path: Path
) -> None:
    migrate(server_url)  # the execution table, as `syncd apply` or `syncd migrate` leave it
    env = worker_env(server_url, None, "nobroker", SYNCD_BROKER_DIR=str(tmp_path / "broker"))
    app = client_app(env)
    task_id = f"report@{DUE}"
    try:
        with celery_worker(env, tmp_path) as worker:
            first = app.send_task(
                "celeryapp.tasks.echo", [1], task_id=task_id, headers=beat_headers("report")
            )
            assert first.get(timeout=60) == {"args": [1], "kwargs": {}}
            app.send_task(
                "celeryapp.tasks.echo", [2], task_id=task_id, headers=beat_headers("report")
            )
            wait_for(lambda: "skipped duplicate delivery" in worker.log(), 60)
            skip = app.send_task("celeryapp.tasks.echo", [3], headers=beat_headers("o", "skip"))
            assert skip.get(timeout=60) == {"args": [3], "kwargs": {}}
            log = worker.log()
        assert app.AsyncResult(task_id).result == {"args": [1], "kwargs": {}}
        assert "overlap: skip and buffer_one are not enforced: they need Redis" in log
    finally:
        app.close()


def test_rabbitmq_broker(
    pg_url: str, redis_url: str, redis_prefix: str, rabbit_vhost: str, tmp_path: Path
) -> None:
    broker = RABBITMQ_URL.rstrip("/") + "/" + rabbit_vhost
    env = worker_env(pg_url, redis_url, redis_prefix, broker_url=broker)
    app = client_app(env)
    key = f"{redis_prefix}:runs"
    try:
        with celery_worker(env, tmp_path):
            echo = app.send_task("celeryapp.tasks.echo", ["amqp"], {"via": "rabbitmq"})
            assert echo.get(timeout=60) == {"args": ["amqp"], "kwargs": {"via": "rabbitmq"}}
            probe = app.send_task(
                "celeryapp.tasks.probe", [key], task_id=f"r@{DUE}", headers=beat_headers("r")
            )
            assert probe.get(timeout=60)["schedule"] == "r"
    finally:
        app.close()

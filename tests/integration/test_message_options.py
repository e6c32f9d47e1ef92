"""The beat's message carries the schedule's options and headers, read back from the real
broker.

A schedule applied through the CLI, a real `DatabaseScheduler` (clock injected) publishing
to Redis and to RabbitMQ, and the message taken off the broker as a worker would get it:
its priority, queue and headers are the ones the field declaration (celeryapp.codec) says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection

from celeryapp.app import make_app
from celeryapp.scheduler import DatabaseScheduler
from celeryapp.schedules import task_id
from celeryapp.settings import Settings

pytestmark = pytest.mark.integration

SYNCD = str(Path(sys.executable).with_name("syncd"))
RABBIT = os.environ.get("SYNCD_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _apply(tmp_path: Path, url: str, queue: str, start: datetime) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(
        f"""version: 1
schedules:
  - name: urgent
    task: celeryapp.tasks.echo
    every: 1h
    start_time: "{start.isoformat()}"
    queue: {queue}
    priority: 7
    headers:
      x-team: billing
      x-tenant: 42
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env["SYNCD_DATABASE_URL"] = url
    done = subprocess.run(
        [SYNCD, "apply"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _publish_once(settings: Settings, start: datetime) -> None:
    """Two ticks of a leading beat: load before the due time, publish at it."""
    now = [start - timedelta(seconds=1)]
    app = make_app(settings)
    DatabaseScheduler.clock = staticmethod(lambda: now[0])
    scheduler = DatabaseScheduler(app=app, lazy=False)
    scheduler._wait_for_signal = lambda wait: wait  # type: ignore[method-assign]
    try:
        scheduler.tick()
        now[0] = start
        scheduler.tick()
    finally:
        scheduler.engine.dispose()
        app.close()


@pytest.fixture
def start() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def queue() -> str:
    return f"prio-{uuid.uuid4().hex[:8]}"


def _check(message_headers: dict[str, Any], priority: Any, start: datetime) -> None:
    assert priority == 7
    assert message_headers["id"] == task_id("urgent", start)
    assert message_headers["syncd_schedule"] == "urgent"
    assert message_headers["syncd_due"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert message_headers["x-team"] == "billing"
    assert message_headers["x-tenant"] == 42


def test_redis_message_carries_priority(
    tmp_path: Path, sqlite_url: str, redis_url: str, redis_prefix: str, queue: str, start: datetime
) -> None:
    _apply(tmp_path, sqlite_url, queue, start)
    settings = Settings(database_url=sqlite_url, broker_url=redis_url, broker_prefix=redis_prefix)
    _publish_once(settings, start)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [
            k
            for k in client.scan_iter(match=f"{redis_prefix}:{queue}*")
            if client.type(k) == b"list"
        ]
        raw = [m for k in keys for m in client.lrange(k, 0, -1)]
    finally:
        client.close()
    assert len(raw) == 1, keys
    body = json.loads(raw[0])
    _check(body["headers"], body["properties"]["priority"], start)


def test_rabbitmq_message_carries_priority(
    tmp_path: Path, sqlite_url: str, rabbit_vhost: str, queue: str, start: datetime
) -> None:
    _apply(tmp_path, sqlite_url, queue, start)
    broker = f"{RABBIT.rstrip('/')}/{rabbit_vhost}"
    _publish_once(Settings(database_url=sqlite_url, broker_url=broker), start)
    with Connection(broker) as conn:
        simple = conn.SimpleQueue(queue)
        message = simple.get(block=True, timeout=10)
        message.ack()
        simple.close()
    _check(message.headers, message.properties["priority"], start)

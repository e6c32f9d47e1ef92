"""The beat with real `celery beat` and `celery worker` processes, PostgreSQL or MariaDB, and
Redis."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.acceptance.beat_process import beats
from tests.celery_worker import celery_worker, wait_for, worker_env
from tests.probes import apply, probe, runs, write

pytestmark = pytest.mark.acceptance


@pytest.fixture
def env(server_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """PostgreSQL or MariaDB (tests/conftest.py `server_url`), with Redis."""
    return worker_env(
        server_url,
        redis_url,
        redis_prefix,
        SYNCD_BEAT_LOCK_TTL="3",
        SYNCD_BEAT_MAX_INTERVAL="1",
        SYNCD_BEAT_POLL_INTERVAL="2",
    )


def test_apply_runs_appear_and_changes_take_effect(
    env: dict[str, str], tmp_path: Path, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(env["SYNCD_REDIS_URL"])
    key = f"{redis_prefix}:runs"
    folder = tmp_path / "schedules"
    write(
        folder,
        probe("fast", key) + "  - name: echo-every-2s\n    task: celeryapp.tasks.echo\n"
        "    every: 2s\n    args: [1]\n    kwargs: {to: ops}\n",
    )
    apply(env, folder)
    with celery_worker(env, tmp_path), beats(env, tmp_path) as (beat,):
        wait_for(lambda: len(runs(client, key)) >= 3, 60, what="three probe runs")
        engine = create_engine(env["SYNCD_DATABASE_URL"])

        def echo_results() -> list[Any] | None:
            with engine.connect() as conn:
                found = conn.execute(
                    text(
                        "SELECT task_id, status, result FROM celery_taskmeta WHERE name = "
                        "'celeryapp.tasks.echo'"
                    )
                ).all()
            return list(found) if any(r.status == "SUCCESS" for r in found) else None

        # The echo schedule runs every 2 s: its first result may still be on its way, and
        # with task_track_started a run being executed shows as STARTED.
        rows = wait_for(echo_results, 30, what="an echo success in the result backend")
        assert all(r.task_id.startswith("echo-every-2s@") for r in rows)
        assert all(r.status in ("STARTED", "SUCCESS") for r in rows)
        # a new schedule takes effect within 2 s of the apply (Redis signal path)
        write(folder, probe("fast", key) + probe("added", key))
        started = time.time()
        applied = apply(env, folder)
        first = wait_for(
            lambda: next((s for t, s in runs(client, key) if t.startswith("added@")), None),
            30,
            what="the added schedule to run",
        )
        # The run can start before the apply process has exited: time it from the start.
        latency = first - applied
        print(
            f"RELIABILITY | change signal: apply with a beat running | 1 | new schedule "
            f"(every 1 s) started {first - started:.2f} s after `syncd apply` was started "
            f"(the apply process itself took {applied - started:.2f} s)"
        )
        assert "reloaded 2 changed schedules" in beat.log()
        assert latency < 2 + 1 + 1.5  # reload <= 2 s, then its first due time 1 s later
        engine.dispose()
    ids = [t for t, _ in runs(client, key)]
    assert len(ids) == len(set(ids))


def test_failover_after_kill9_no_double_run(
    env: dict[str, str], tmp_path: Path, redis_prefix: str
) -> None:
    client = redis.Redis.from_url(env["SYNCD_REDIS_URL"])
    key = f"{redis_prefix}:runs"
    folder = tmp_path / "schedules"
    write(folder, probe("a", key) + probe("b", key, "2s"))
    apply(env, folder)
    with celery_worker(env, tmp_path), beats(env, tmp_path, 2) as pair:
        leader = wait_for(lambda: next((b for b in pair if b.leading), None), 60, what="a leader")
        standby = next(b for b in pair if b is not leader)
        wait_for(lambda: len(runs(client, key)) >= 4, 60, what="runs before the kill")
        leader.kill9()
        killed = time.time()
        wait_for(lambda: standby.leading, 30, what="the standby to take over")
        after = wait_for(
            lambda: [s for t, s in runs(client, key) if t.startswith("a@") and s > killed],
            30,
            what="a run after the kill",
        )
        gap = min(after) - killed
        print(
            f"RELIABILITY | kill -9 of the leading beat (two beats, every-second schedules) "
            f"| 1 | standby dispatched {gap:.1f} s after the kill; no (schedule, due) twice"
        )
        assert gap < 5
        time.sleep(3)
    ids = [t for t, _ in runs(client, key)]
    assert len(ids) == len(set(ids)), "a (schedule, due time) ran twice"
    # every due time of `a` between the first and last run appears (none skipped beyond
    # the failover gap's catch-up rule: at most one missed due time may be coalesced)
    dues = sorted(t.split("@", 1)[1] for t in ids if t.startswith("a@"))
    assert len(dues) >= 6


def test_restart_of_the_only_beat_repeats_nothing_and_skips_nothing(
    env: dict[str, str], tmp_path: Path, redis_prefix: str
) -> None:
    """Stop the only beat, let exactly one due time pass with no beat, start it again:
    that due time is caught up (catchup: latest), nothing runs twice, nothing is skipped.

    The period (6 s) leaves the new beat most of a period to start and take the lock
    before a second due time would pass, which `catchup: latest` would rightly skip."""
    period = 6
    client = redis.Redis.from_url(env["SYNCD_REDIS_URL"])
    key = f"{redis_prefix}:runs"
    folder = tmp_path / "schedules"
    write(folder, probe("steady", key, f"{period}s"))
    apply(env, folder)

    def due_times() -> list[float]:
        return sorted(
            datetime.fromisoformat(t.split("@", 1)[1].replace("Z", "+00:00")).timestamp()
            for t, _ in runs(client, key)
        )

    with celery_worker(env, tmp_path):
        with beats(env, tmp_path):
            wait_for(lambda: len(runs(client, key)) >= 2, 60, what="runs")
        time.sleep(1.5)  # runs sent just before the stop are recorded
        missed = due_times()[-1] + period  # the next due time: passes with no beat
        time.sleep(max(0.0, missed + 0.5 - time.time()))
        with beats(env, tmp_path):
            wait_for(lambda: any(d >= missed for d in due_times()), 60, what="the missed due time")
            time.sleep(period + 1)
    dues = due_times()
    assert len(dues) == len(set(dues)), "a due time ran twice"
    assert missed in dues, "the due time missed during the restart was not caught up"
    gaps = {b - a for a, b in pairwise(dues)}
    assert gaps == {float(period)}, sorted(gaps)
    print(
        f"RELIABILITY | restart of the only beat, one due time passing while it was down | "
        f"1 | that due time caught up once; {len(dues)} due times on an unbroken "
        f"{period} s grid, none twice"
    )


def test_database_lease_lock_without_redis(
    server_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    env = worker_env(
        server_url, None, redis_prefix, CELERY_BROKER_URL=redis_url, SYNCD_BEAT_LOCK_TTL="3"
    )
    env.pop("SYNCD_REDIS_URL", None)
    folder = tmp_path / "schedules"
    write(folder, "  - name: lease\n    task: celeryapp.tasks.echo\n    every: 1s\n")
    apply(env, folder)
    engine = create_engine(server_url)
    with celery_worker(env, tmp_path), beats(env, tmp_path, 2) as pair:
        wait_for(lambda: any(b.leading for b in pair), 60, what="a leader")
        time.sleep(4)
        assert sum(b.leading for b in pair) == 1
        with engine.connect() as conn:
            holder = conn.execute(text("SELECT holder FROM syncd_beat_lease")).scalar()
            claimed = conn.execute(
                text("SELECT count(*), count(DISTINCT due_time) FROM syncd_dispatch_ledger")
            ).one()
        assert holder
        assert claimed[0] == claimed[1] >= 3
    engine.dispose()


def test_rabbitmq_as_the_broker(
    pg_url: str, redis_url: str, redis_prefix: str, rabbit_vhost: str, tmp_path: Path
) -> None:
    from tests.conftest import RABBITMQ_URL

    broker = RABBITMQ_URL.rstrip("/") + "/" + rabbit_vhost
    env = worker_env(pg_url, redis_url, redis_prefix, broker_url=broker)
    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}:runs"
    folder = tmp_path / "schedules"
    write(folder, probe("amqp", key))
    apply(env, folder)
    with celery_worker(env, tmp_path), beats(env, tmp_path):
        wait_for(lambda: len(runs(client, key)) >= 3, 60, what="runs through RabbitMQ")
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        done = conn.execute(
            text(
                "SELECT count(*) FROM celery_taskmeta WHERE task_id LIKE "
                "'amqp@%' AND status = 'SUCCESS'"
            )
        ).scalar()
    engine.dispose()
    assert done >= 3
    ids = [t for t, _ in runs(client, key)]
    assert len(ids) == len(set(ids))

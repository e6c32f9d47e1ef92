"""The beat under faults, with real processes: leaders killed in a loop, a stalled leader,
PostgreSQL and the broker restarted under a running beat. Every (schedule, due time) must
run at most once, and the schedule must come back.

Servers that are restarted are throwaway instances on free ports, never the shared ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from tests.acceptance.beat_process import beats, leader_of, start_beat
from tests.celery_worker import celery_worker, stop, wait_for, worker_env
from tests.faults.servers import (
    ThrowawayDatabase,
    ThrowawayRabbit,
    free_port,
    throwaway_db,
    throwaway_mariadb,
    throwaway_pg,
    throwaway_rabbit,
)
from tests.probes import apply, assert_once, probe, runs
from tests.tally import due_of

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]


def reachable(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def env(pg_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return worker_env(
        pg_url, redis_url, redis_prefix, SYNCD_BEAT_LOCK_TTL="3", SYNCD_BEAT_MAX_INTERVAL="1"
    )


@pytest.fixture
def server_env(server_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """PostgreSQL and MariaDB, one run each: for a takeover, where the new leader claims
    its due times in the ledger (each database's own upsert) beside the old leader's."""
    return worker_env(
        server_url, redis_url, redis_prefix, SYNCD_BEAT_LOCK_TTL="3", SYNCD_BEAT_MAX_INTERVAL="1"
    )


def test_leader_killed_20_times(env: dict[str, str], tmp_path: Path, redis_prefix: str) -> None:
    client = redis.Redis.from_url(env["SYNCD_REDIS_URL"])
    key = f"{redis_prefix}:runs"
    apply(env, tmp_path / "schedules", probe("a", key) + probe("b", key))
    gaps = []
    with celery_worker(env, tmp_path):
        running = [start_beat(env, tmp_path, f"beat{i}") for i in range(3)]
        try:
            for kill in range(20):
                current = list(running)
                leader = wait_for(
                    lambda beats=current: leader_of(beats, client, redis_prefix),
                    60,
                    what="a leader",
                )
                wait_for(
                    lambda: any(s > time.time() - 1.5 for _, s in runs(client, key)),
                    30,
                    what="runs before the kill",
                )
                leader.kill9()
                killed = time.time()
                running = [b for b in running if b is not leader]
                running.append(start_beat(env, tmp_path, f"beat-r{kill}"))
                first = wait_for(
                    lambda since=killed: min(
                        (s for _, s in runs(client, key) if s > since), default=None
                    ),
                    30,
                    what="a run after the kill",
                )
                gaps.append(first - killed)
            time.sleep(2)
        finally:
            for beat in running:
                stop(beat.process)
    print(
        f"RELIABILITY | kill -9 of the leader, 3 beats, every-second schedules | 20 | "
        f"next run after {min(gaps):.1f}-{max(gaps):.1f} s; no (schedule, due) twice"
    )
    assert max(gaps) < 5, gaps
    assert_once(client, key)


def test_stalled_leader_steps_down(
    server_env: dict[str, str], tmp_path: Path, redis_prefix: str
) -> None:
    env = server_env
    client = redis.Redis.from_url(env["SYNCD_REDIS_URL"])
    key = f"{redis_prefix}:runs"
    apply(env, tmp_path / "schedules", probe("a", key))
    with celery_worker(env, tmp_path), beats(env, tmp_path, 2) as pair:
        leader = wait_for(lambda: leader_of(pair, client, redis_prefix), 60, what="a leader")
        other = next(b for b in pair if b is not leader)
        wait_for(lambda: len(runs(client, key)) >= 2, 30, what="runs")
        os.kill(leader.process.pid, signal.SIGSTOP)
        stopped = time.time()
        try:
            wait_for(lambda: other.leading, 30, what="the standby to take over")
            time.sleep(max(0.0, 6 - (time.time() - stopped)))  # past the 3 s TTL
        finally:
            os.kill(leader.process.pid, signal.SIGCONT)
        wait_for(
            lambda: "lost the beat lock" in leader.log(), 30, what="the old leader to step down"
        )
        time.sleep(3)
    assert_once(client, key)
    print(
        "RELIABILITY | leader stalled (SIGSTOP 6 s > TTL 3 s, then SIGCONT) | 1 | standby "
        "took over, old leader stepped down, no (schedule, due) twice"
    )


def recorded_runs(url: str, name: str) -> tuple[list[float], int, int]:
    """The ledger's due times of `name` (epoch seconds), how many are marked published,
    and the schedule's total_run_count."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT due_time, published_time FROM syncd_dispatch_ledger "
                    "WHERE schedule_name = :n"
                ),
                {"n": name},
            ).all()
            total = conn.execute(
                text("SELECT total_run_count FROM sys_task_scheduler WHERE name = :n"),
                {"n": name},
            ).scalar_one()
    finally:
        engine.dispose()
    # MariaDB's DATETIME comes back naive, in UTC (how syncd stores times there).
    dues = [(d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp() for d, _ in rows]
    return dues, sum(1 for _, p in rows if p is not None), int(total)


def test_database_restarted_under_a_running_beat(
    throwaway_db: ThrowawayDatabase, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    url = throwaway_db.url
    server = "MariaDB" if url.startswith("mysql") else "PostgreSQL"
    env = worker_env(url, redis_url, redis_prefix, SYNCD_BEAT_LOCK_TTL="3")
    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}:runs"
    apply(env, tmp_path / "schedules", probe("a", key))
    with celery_worker(env, tmp_path), beats(env, tmp_path) as (beat,):
        wait_for(lambda: len(runs(client, key)) >= 3, 60, what="runs")
        throwaway_db.stop()
        down = time.time()
        time.sleep(5)
        sent_while_down = "from memory" in beat.log()
        throwaway_db.start()
        up = time.time()
        wait_for(lambda: "database is back" in beat.log(), 60, what="deferred run state")
        wait_for(
            lambda: any(s > up + 1 for _, s in runs(client, key)), 60, what="runs after the restart"
        )
        time.sleep(2)
    ids = assert_once(client, key)
    during = [s for t, s in runs(client, key) if down < s < up]
    # What the beat sent from memory is in the database once it is back: claimed in the
    # ledger and marked published, and counted once in the schedule's run state.
    dues, published, total = recorded_runs(url, "a")
    assert published == len(dues), (published, len(dues))
    assert total == len(dues), (total, len(dues))
    assert any(down < d < up for d in dues), (down, up, dues)
    print(
        f"RELIABILITY | {server} restarted under a running beat (5 s down) | 1 | "
        f"the beat kept sending from memory ({len(during)} runs executed while down: the "
        f"workers' result backend is that database), run state "
        f"written after reconnect, no (schedule, due) twice"
    )
    assert sent_while_down
    assert ids


def test_broker_restarted(tmp_path: Path, pg_url: str, redis_prefix: str) -> None:
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        wait_for(lambda: reachable(client), 20, what="the throwaway redis")
        env = worker_env(pg_url, url, redis_prefix, SYNCD_BEAT_LOCK_TTL="3")
        key = f"{redis_prefix}:runs"
        apply(env, tmp_path / "schedules", probe("a", key, "2s"))
        with celery_worker(env, tmp_path), beats(env, tmp_path):
            wait_for(lambda: len(runs(client, key)) >= 2, 60, what="runs")
            before = assert_once(client, key)
            server.terminate()
            server.wait(20)
            time.sleep(5)
            server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            back = time.time()
            wait_for(lambda: reachable(client), 20, what="redis back")
            first = wait_for(
                lambda: min((s for _, s in runs(client, key)), default=None),
                90,
                what="runs after the broker restart",
            )
            time.sleep(3)
            after = assert_once(client, key)
        print(
            f"RELIABILITY | Redis (broker, lock, signal) restarted for 5 s | 1 | dispatch "
            f"resumed {first - back:.1f} s after it was back; {len(before)} runs before, "
            f"{len(after)} after; no (schedule, due) twice"
        )
    finally:
        server.terminate()
        server.wait(20)


def test_rabbitmq_restarted(
    tmp_path: Path,
    pg_url: str,
    redis_url: str,
    redis_prefix: str,
    throwaway_rabbit: ThrowawayRabbit,
) -> None:
    """The broker alone goes away (the lock stays on Redis, so the beat keeps leading):
    publishing fails and is retried, and when the broker is back the due times it missed
    follow `catchup` instead of going out in a burst."""
    env = worker_env(
        pg_url, redis_url, redis_prefix, broker_url=throwaway_rabbit.url, SYNCD_BEAT_LOCK_TTL="3"
    )
    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}:runs"
    body = probe("latest", key, "2s") + probe("skip", key, "2s") + "    catchup: skip\n"
    apply(env, tmp_path / "schedules", body)
    with celery_worker(env, tmp_path), beats(env, tmp_path):
        wait_for(lambda: len(runs(client, key)) >= 4, 60, what="runs through RabbitMQ")
        before = assert_once(client, key)
        down = time.time()
        throwaway_rabbit.stop()
        time.sleep(8)
        throwaway_rabbit.start()
        back = time.time()

        def resumed(name: str) -> float | None:
            late = [s for t, s in runs(client, key) if t.startswith(f"{name}@") and s > back]
            return min(late, default=None)

        wait_for(lambda: resumed("latest") and resumed("skip"), 120, what="runs after restart")
        first = min(resumed("latest") or back, resumed("skip") or back)
        time.sleep(4)
        ids = assert_once(client, key)
    # Due times well inside the outage: `latest` may fire only the last one missed, `skip` none.
    inside = {
        name: sorted(
            due_of(t) for t in ids if t.startswith(f"{name}@") and down + 3 < due_of(t) < back - 3
        )
        for name in ("latest", "skip")
    }
    assert len(inside["latest"]) <= 1, inside
    assert inside["skip"] == [], inside
    print(
        f"RELIABILITY | RabbitMQ (broker only) stopped for 8 s under a leading beat | 1 | "
        f"publishing retried; dispatch resumed {first - back:.1f} s after it was back; missed "
        f"due times: latest fired {len(inside['latest'])}, skip fired 0; {len(before)} runs "
        f"before, {len(ids)} after; no (schedule, due) twice"
    )


__all__ = [  # the fixtures, imported for pytest
    "throwaway_db",
    "throwaway_mariadb",
    "throwaway_pg",
    "throwaway_rabbit",
]

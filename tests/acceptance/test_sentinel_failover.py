"""A Redis primary fails over under a running beat and worker, all through Sentinel.

A primary, a replica and three Sentinels of our own on free loopback ports (the shared
Redis on 6379 is never touched); `SYNCD_REDIS_URL=redis+sentinel://...` for the lock, the
signal and the once-only keys, and the broker following it (kombu's sentinel transport).
A real beat and a real gevent worker run `tests.tally_task` every second; the primary is
killed (SIGKILL by its PID), the Sentinels promote the replica, and then: dispatch
resumes, every due time from the first one after recovery to the end ran (nothing lost),
and every task id ran exactly once (nothing twice).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.acceptance.beat_process import beats
from tests.acceptance.conftest import BEAT, tally_of
from tests.celery_worker import celery_worker, wait_for, worker_env
from tests.conftest import create_pg_database, drop_pg_database
from tests.faults.servers import free_port
from tests.probes import apply
from tests.tally import due_times, quiesce, tally_env, tally_schedule

pytestmark = pytest.mark.acceptance

SERVICE = "syncdmaster"


class SentinelCluster:
    """redis-server processes of our own: a primary, a replica, three Sentinels."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def _server(self, port: int, *extra: str) -> None:
        folder = self.root / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "out.log").open("wb") as out:
            self.processes[port] = subprocess.Popen(
                [*extra]
                if extra and extra[0].endswith(".conf")
                else [
                    "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--dir", str(folder), *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )  # fmt: skip

    def start(self) -> None:
        self._server(self.primary_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        for port in self.sentinel_ports:
            conf = self.root / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {self.root}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            folder = self.root / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "out.log").open("wb") as out:
                self.processes[port] = subprocess.Popen(
                    ["redis-server", str(conf), "--sentinel"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
        replica = redis.Redis(port=self.replica_port, socket_timeout=1)
        wait_for(
            lambda: _quiet(lambda: replica.info("replication")["master_link_status"] == "up"),
            30,
            what="the replica to sync",
        )
        replica.close()
        for port in self.sentinel_ports:
            sentinel = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
            wait_for(
                lambda s=sentinel: _quiet(  # type: ignore[misc]
                    lambda: (
                        len(s.execute_command("SENTINEL", "REPLICAS", SERVICE)) == 1
                        and len(s.execute_command("SENTINEL", "SENTINELS", SERVICE)) == 2
                    )
                ),
                60,
                what=f"sentinel {port} to see the replica and the other sentinels",
            )
            sentinel.close()

    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def master_port(self) -> int | None:
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                try:
                    _host, master = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
                    )
                    return int(master)
                finally:
                    client.close()
        return None

    def kill(self, port: int) -> None:
        process = self.processes[port]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _quiet(check: object) -> bool:
    try:
        return bool(check())  # type: ignore[operator]
    except (redis.RedisError, OSError, KeyError):
        return False


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    found = SentinelCluster(tmp_path / "redis")
    try:
        found.start()
        yield found
    finally:
        found.stop()


@pytest.fixture
def env(cluster: SentinelCluster, tmp_path: Path, redis_prefix: str) -> Iterator[dict[str, str]]:
    name, url = create_pg_database()
    try:
        yield tally_env(worker_env(url, cluster.url(), redis_prefix, **BEAT), tmp_path / "tally")
    finally:
        drop_pg_database(name)


def test_primary_killed_under_a_running_beat_and_worker(
    cluster: SentinelCluster, env: dict[str, str], tmp_path: Path
) -> None:
    tally = tally_of(env)
    apply(env, tmp_path / "schedules", tally_schedule("tick", "every: 1s"))
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        wait_for(lambda: len(tally.received()) >= 3, 60, what="runs before the failover")
        killed_at = time.time()
        cluster.kill(cluster.primary_port)
        wait_for(
            lambda: cluster.master_port() == cluster.replica_port,
            60,
            what="the sentinels to promote the replica",
        )
        promoted_at = time.time()
        wait_for(
            lambda: sum(d > promoted_at for d in due_times(tally.executed()).get("tick", [])) >= 5,
            90,
            what="five runs after the failover",
        )
        stopped_at = time.time()
    quiesce(tally)
    assert not tally.violations(), "\n".join(tally.violations()[:20])
    dues = due_times(tally.received())["tick"]
    before = [d for d in dues if d <= killed_at]
    after = [d for d in dues if d > killed_at]
    assert before, "nothing ran before the kill"
    assert after, "nothing ran after the kill"
    recovered = after[0]
    # Nothing lost: every second from the first run after recovery until the beat stopped.
    expected = {recovered + i for i in range(int(stopped_at - 1 - recovered))}
    assert expected <= set(after), sorted(expected - set(after))
    print(
        f"SENTINEL | killed at +0.0 s, replica promoted +{promoted_at - killed_at:.1f} s, "
        f"first run after +{recovered - killed_at:.1f} s | {len(dues)} runs, each once"
    )

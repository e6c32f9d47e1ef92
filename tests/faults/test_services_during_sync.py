"""Services failing under the sync side: the database (PostgreSQL, MariaDB) restarted during
`syncd watch`, Redis down during an apply while a beat runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.acceptance.beat_process import beats
from tests.celery_worker import celery_worker, wait_for, worker_env
from tests.faults.servers import (
    ThrowawayDatabase,
    throwaway_db,
    throwaway_mariadb,
    throwaway_pg,
)

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]
SYNCD = str(Path(sys.executable).with_name("syncd"))
__all__ = ["throwaway_db", "throwaway_mariadb", "throwaway_pg"]


def schedules(folder: Path, every: str, name: str = "a") -> None:
    (folder / "s.yaml").write_text(
        f"version: 1\nschedules:\n  - name: {name}\n    task: t.x\n    every: {every}\n"
    )


def test_watch_survives_a_database_restart(throwaway_db: ThrowawayDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    schedules(folder, "1m")
    log_path = tmp_path / "watch.log"
    log = log_path.open("w")
    watcher = subprocess.Popen(
        [
            SYNCD,
            "--database-url",
            throwaway_db.url,
            "watch",
            str(folder),
            "--format",
            "json",
            "--debounce",
            "100",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def events() -> list[dict[str, object]]:
        return [
            json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
        ]

    try:
        wait_for(lambda: len(events()) >= 1, 60, what="the first apply")
        time.sleep(0.5)
        throwaway_db.stop()
        schedules(folder, "2m")
        wait_for(lambda: len(events()) >= 2, 60, what="the apply while the database is down")
        assert events()[1]["status"] == "error"
        throwaway_db.start()
        time.sleep(0.5)
        schedules(folder, "3m")
        wait_for(lambda: len(events()) >= 3, 60, what="the apply after the restart")
        after = events()[2]
        assert after["status"] == "applied", after
        assert after["revision"] == 2
        assert watcher.poll() is None
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(30) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait(10)
        log.close()
    server = "MariaDB" if throwaway_db.url.startswith("mysql") else "PostgreSQL"
    print(
        f"RELIABILITY | {server} restarted during `syncd watch` | 1 | the edit made while "
        "it was down reported an error and changed nothing; the next edit applied"
    )


def test_redis_down_during_apply_beat_polls_the_database(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = worker_env(pg_url, redis_url, redis_prefix, SYNCD_BEAT_POLL_INTERVAL="2")
    client = redis.Redis.from_url(redis_url)
    key = f"{redis_prefix}:runs"
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "s.yaml").write_text("version: 1\nschedules: []\n")
    subprocess.run(
        [SYNCD, "apply", str(folder)], env=env, check=True, capture_output=True, timeout=120
    )
    with celery_worker(env, tmp_path), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        (folder / "s.yaml").write_text(
            "version: 1\nschedules:\n  - name: late\n    task: celeryapp.tasks.probe\n"
            f"    every: 1s\n    kwargs: {{key: '{key}'}}\n"
        )
        dead = {**env, "SYNCD_REDIS_URL": "redis://127.0.0.1:1/0"}
        done = subprocess.run(
            [SYNCD, "apply", str(folder)],
            env=dead,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        applied = time.time()
        assert done.returncode == 0, done.stderr
        assert "could not be told" in done.stderr
        first = wait_for(
            lambda: min(
                (
                    s
                    for _, s in (
                        (r.decode().split()[0], float(r.decode().split()[1]))
                        for r in client.lrange(key, 0, -1)
                    )
                ),
                default=None,
            ),
            30,
            what="the change to reach the beat through the database poll",
        )
    print(
        f"RELIABILITY | Redis down during apply (beat running) | 1 | apply committed and "
        f"warned; the beat found the change by its database poll, first run "
        f"{first - applied:.1f} s after the apply"
    )
    assert first - applied < 2 + 1 + 2  # poll interval + tick + the first 1 s due time

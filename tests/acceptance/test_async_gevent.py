"""`async def` tasks on the real gevent worker, started exactly as documented.

100 async runs that can only finish once all 100 are in flight (a rendezvous in Redis,
awaited with asyncio.sleep) must all succeed, and their [start, end] intervals must share
an instant. This shows concurrency without asserting on speed: a worker that ran async
bodies one at a time would never get past the rendezvous.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.celery_worker import celery_worker, client_app, worker_env

pytestmark = pytest.mark.acceptance

PARTIES = 100


def test_100_async_tasks_run_at_once_on_gevent(
    server_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    # PostgreSQL and MariaDB: the results go to the database's result backend, written by
    # 100 greenlets at once (pymysql is pure Python: gevent patches its sockets).
    env = worker_env(server_url, redis_url, redis_prefix)
    app = client_app(env)
    key = f"{redis_prefix}:rendezvous"
    try:
        # The documented command line, no other flags.
        with celery_worker(env, tmp_path, args=[]):
            echo = app.send_task("celeryapp.tasks.async_echo", ["a"], {"b": 1})
            assert echo.get(timeout=60) == {"args": ["a"], "kwargs": {"b": 1}}
            results = [
                app.send_task("celeryapp.tasks.async_rendezvous", [key, PARTIES])
                for _ in range(PARTIES)
            ]
            runs = [res.get(timeout=300) for res in results]
            sleeps = [
                app.send_task("celeryapp.tasks.async_sleep", [1]).get(timeout=120) for _ in range(2)
            ]
    finally:
        app.close()
    assert len(runs) == PARTIES
    assert max(run["started"] for run in runs) < min(run["finished"] for run in runs)
    assert all(s["slept"] == 1 for s in sleeps)

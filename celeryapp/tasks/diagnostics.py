"""Tasks for checking a deployment's guarantees (and used by the acceptance tests).

Each records what happened in Redis (SYNCD_REDIS_URL), under a key the caller chooses, so
an operator or a test can see how often and when a schedule's task really ran.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from celeryapp.app import app
from celeryapp.clients import shared_client
from celeryapp.once import settings_of


def _redis() -> Any:
    url = settings_of(app).redis_url
    if not url:
        raise RuntimeError("this task records into Redis: set SYNCD_REDIS_URL")
    return shared_client(url)


@app.task(name="celeryapp.tasks.probe", bind=True)
def probe(self: Any, key: str, seconds: float = 0) -> dict[str, Any]:
    """Append this run (task id, start, end) to the Redis list `key`; sleep in between.

    Returns the schedule and due time the task saw in its headers.
    """
    started = time.time()
    time.sleep(float(seconds))
    finished = time.time()
    _redis().rpush(key, f"{self.request.id} {started} {finished}")
    run = self.run_info
    return {
        "task_id": self.request.id,
        "started": started,
        "finished": finished,
        "schedule": run.schedule,
        "due": run.due,
    }


def _fail_first(key: str, failures: int) -> int:
    attempt = int(_redis().incr(key))
    if attempt <= failures:
        # What psycopg raises when the server restarts under a connection.
        raise psycopg.OperationalError(f"simulated transient failure {attempt}/{failures}")
    return attempt


@app.task(name="celeryapp.tasks.flaky_db")
def flaky_db(key: str, failures: int) -> dict[str, Any]:
    """Fail with a transient database error the first `failures` times (counter in `key`)."""
    return {"attempts": _fail_first(key, int(failures))}


@app.task(name="celeryapp.tasks.async_flaky_db")
async def async_flaky_db(key: str, failures: int) -> dict[str, Any]:
    """`flaky_db` as a coroutine: transient errors of async tasks are retried too (fba W13)."""
    await asyncio.sleep(0)
    return {"attempts": _fail_first(key, int(failures))}


@app.task(name="celeryapp.tasks.async_rendezvous")
async def async_rendezvous(key: str, parties: int, timeout: float = 120) -> dict[str, Any]:
    """Wait (asynchronously) until `parties` runs have arrived at `key`, then sleep a second.

    All runs can only finish if they are in flight at the same moment, so their [started,
    finished] intervals share an instant: a check of the worker's real async concurrency
    that does not depend on how fast the machine is.
    """
    client = _redis()
    started = time.time()
    client.incr(key)
    client.expire(key, 3600)
    deadline = started + float(timeout)
    while int(client.get(key) or 0) < int(parties):
        if time.time() > deadline:
            raise TimeoutError(f"only {client.get(key)} of {parties} runs arrived at {key}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    return {"started": started, "finished": time.time()}

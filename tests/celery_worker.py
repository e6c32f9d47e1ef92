"""Start and stop a real `celery -A celeryapp.app worker` subprocess for a test.

Every test gets its own broker namespace (a Redis key prefix, or a RabbitMQ vhost) and
its own result database, so workers of parallel tests never take each other's messages.
The worker is stopped by its PID in a finally block (TERM, then KILL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celeryapp.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))
READY_TIMEOUT = 90.0


def worker_env(
    database_url: str,
    redis_url: str | None,
    prefix: str,
    broker_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a worker (and of the test's own app) for one test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(
        SYNCD_DATABASE_URL=database_url,
        SYNCD_REDIS_PREFIX=prefix,
        CELERY_BROKER_PREFIX=prefix,
        # Quick retries: the tests check that retries happen, not how long they wait.
        SYNCD_TASK_RETRY_BACKOFF="0.2",
        SYNCD_TASK_RETRY_BACKOFF_MAX="1",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["SYNCD_REDIS_URL"] = redis_url
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    env.update(extra)
    return env


def client_app(env: Mapping[str, str]) -> Any:
    from celeryapp.app import make_app

    return make_app(Settings.from_env(env))


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path
    hostname: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(predicate: Any, timeout: float, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@contextmanager
def celery_worker(
    env: Mapping[str, str],
    tmp_path: Path,
    *,
    args: list[str] | None = None,
    hostname: str | None = None,
    celery: str = CELERY,
    include: str | None = None,
) -> Iterator[Worker]:
    """Run `celery -A celeryapp.app worker -P gevent -c 100 [args]` until the block ends
    (`celery`: the program, e.g. one installed from the wheel in another venv; `include`:
    a module of extra tasks, `-I`, e.g. `tests.tally_task`, importable from the checkout)."""
    hostname = hostname or f"w-{env.get('SYNCD_REDIS_PREFIX', 'test')}@%h"
    cmd = [celery, "-A", "celeryapp.app", "worker", "-P", "gevent", "-c", "100"]
    cmd += args if args is not None else ["-n", hostname, "-l", "info", "--without-mingle"]
    if include:
        cmd += ["-I", include]
        env = {
            **env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        }
    log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, env=dict(env), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    worker = Worker(process, log_path, hostname)
    pinger = client_app(env)
    try:

        def answered() -> bool:
            if process.poll() is not None:
                return True
            return bool(pinger.control.ping(timeout=0.5))

        wait_for(answered, READY_TIMEOUT, what="the worker to answer a ping")
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()}")
        yield worker
    finally:
        pinger.close()
        stop(process)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """`stop` several at once: all are asked to exit before any is waited for."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        stop(process, timeout)


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)

"""Start and stop real `celery -A celeryapp.app beat` subprocesses for a test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.celery_worker import CELERY, stop


@dataclass
class Beat:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def leading(self) -> bool:
        return "leading: loaded" in self.log()

    @property
    def started(self) -> bool:
        """Celery beat is up (a standby logs nothing more until it wins the lock)."""
        return "beat: Starting" in self.log()

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def start_beat(
    env: Mapping[str, str], tmp_path: Path, name: str = "beat", celery: str = CELERY
) -> Beat:
    log_path = tmp_path / f"{name}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                celery,
                "-A",
                "celeryapp.app",
                "beat",
                "-l",
                "info",
                "-s",
                str(tmp_path / f"{name}-schedule"),
            ],
            env=dict(env),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Beat(process, log_path)


@contextmanager
def beats(env: Mapping[str, str], tmp_path: Path, count: int = 1) -> Iterator[list[Beat]]:
    started = [start_beat(env, tmp_path, f"beat{i}") for i in range(count)]
    try:
        yield started
    finally:
        for beat in started:
            stop(beat.process)


def leader_of(pair: list[Beat], client: redis.Redis, prefix: str) -> Beat | None:
    """The beat holding the lock: its log's last leadership line is the newest."""
    holder = client.get(f"{prefix}:beat:lock")
    if holder is None:
        return None
    alive = [b for b in pair if b.process.poll() is None and b.leading]
    alive.sort(key=lambda b: b.log().rfind("leading: loaded"))
    for beat in alive:
        log = beat.log()
        if log.rfind("leading: loaded") > log.rfind("standing by"):
            return beat
    return None

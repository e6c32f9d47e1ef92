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

from tests.celery_worker import CELERY, stop_all


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
        stop_all([beat.process for beat in started])


def _took_lock_at(log: str) -> str:
    """The log timestamp of the beat's last "leading: loaded", "" if it stood by since."""
    at = log.rfind("leading: loaded")
    if at < 0 or log.rfind("standing by") > at:
        return ""
    line = log[log.rfind("\n", 0, at) + 1 : at]
    return line[1:24]  # [2026-12-02 16:05:03,843: INFO/...


def leader_of(pair: list[Beat], client: redis.Redis, prefix: str) -> Beat | None:
    """The beat holding the lock: of the live beats that say they lead, the one that took
    the lock last (a leader stuck in a long tick may not have noticed it lost it yet)."""
    if client.get(f"{prefix}:beat:lock") is None:
        return None
    leading = [(_took_lock_at(b.log()), b) for b in pair if b.process.poll() is None]
    leading = [(at, b) for at, b in leading if at]
    return max(leading, key=lambda item: item[0])[1] if leading else None

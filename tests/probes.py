"""Probe schedules for tests with a real beat and worker: the `celeryapp.tasks.probe`
task appends "TASK_ID STARTED FINISHED" to a Redis list, so a test can read which
(schedule, due time) ran, when, and whether any ran twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import redis

SYNCD = str(Path(sys.executable).with_name("syncd"))


def write(folder: Path, body: str) -> None:
    """One schedules file holding `body` (YAML list items under `schedules:`)."""
    folder.mkdir(exist_ok=True)
    (folder / "s.yaml").write_text("version: 1\nschedules:\n" + body)


def apply(env: Mapping[str, str], folder: Path, body: str | None = None, *options: str) -> float:
    """`syncd apply [options] FOLDER` (written first when `body` is given); when it returned."""
    if body is not None:
        write(folder, body)
    done = subprocess.run(
        [SYNCD, "apply", *options, str(folder)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return time.time()


def probe(name: str, key: str, every: str = "1s") -> str:
    return (
        f"  - name: {name}\n    task: celeryapp.tasks.probe\n    every: {every}\n"
        f"    kwargs: {{key: '{key}'}}\n"
    )


def runs(client: redis.Redis, key: str) -> list[tuple[str, float]]:
    """(task id, start time) of every probe run recorded under `key`."""
    out = []
    for raw in client.lrange(key, 0, -1):
        tid, started, _ = raw.decode().split()
        out.append((tid, float(started)))
    return out


def assert_once(client: redis.Redis, key: str) -> list[str]:
    ids = [t for t, _ in runs(client, key)]
    assert len(ids) == len(set(ids)), "a (schedule, due time) ran twice"
    return ids

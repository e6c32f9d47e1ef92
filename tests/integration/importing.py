"""Shared by the import tests: the real CLI, and fire times as Celery computes them.

Celery's schedules answer "how long until the next run, given the last one" through
`remaining_estimate(last_run_at)` with `nowfun` as the clock; iterating that from a start
gives the fire times the source scheduler would produce if every run happened on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SYNCD = str(Path(sys.executable).with_name("syncd"))


def syncd(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SYNCD, *args],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


def celery_fire_times(schedule: Any, last_run_at: datetime, after: datetime, n: int) -> list:
    """The first `n` fire times strictly after `after`, counting from a run at `last_run_at`,
    by the schedule's own remaining_estimate (UTC, whole seconds)."""
    out: list[datetime] = []
    last = last_run_at
    for _ in range(100_000):
        schedule.nowfun = lambda last=last: last
        nxt = last + schedule.remaining_estimate(last)
        if nxt <= last:  # an interval overdue at `last`: Celery fires it at once
            nxt = last + timedelta(seconds=1)
        if nxt > after:
            out.append(nxt.astimezone(after.tzinfo).replace(microsecond=0))
            if len(out) == n:
                return out
        last = nxt
    raise AssertionError("no fire times")


def syncd_fire_times(name: str, folder: Path, after: datetime, n: int) -> list[datetime]:
    done = syncd(
        "next", name, str(folder), "--after", after.isoformat(), "-n", str(n), "--format", "json"
    )
    stamps = json.loads(done.stdout)["fire_times"]
    return [
        datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(after.tzinfo) for s in stamps
    ]


def round_trip(folder: Path, database_url: str) -> None:
    """validate, apply to a fresh database, then a plan with nothing to do."""
    syncd("validate", str(folder))
    syncd("--database-url", database_url, "apply", str(folder))
    syncd("--database-url", database_url, "plan", str(folder), "--detailed-exitcode")

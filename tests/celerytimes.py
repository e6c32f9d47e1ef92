"""Fire times as Celery computes them (pure: no broker, no beat).

Celery's schedules answer "how long until the next run, given the last one" through
`remaining_estimate(last_run_at)` with `nowfun` as the clock; iterating that from a start
gives the fire times the source scheduler would produce if every run happened on time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


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

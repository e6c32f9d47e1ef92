"""Recovery: runs claimed and never published are republished by the leader.

A beat that crashed (or stalled past its lock) between claim and publish leaves claims
without a publish mark. The leader looks for them on takeover, then every poll, and
republishes them with the same task id: the worker's once-only check makes a second
delivery harmless, while a lost run is lost for good. A claim too old to run by its
schedule's `catchup`, or whose schedule is gone, is said once and left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from celeryapp import runstore
from celeryapp.beatcore import Run
from celeryapp.dueplan import Entry, window
from celeryapp.schedules import task_id, to_utc

log = logging.getLogger("celeryapp.beat")

# Runs claimed but never published are looked for this far back.
RECOVER_WITHIN = timedelta(days=1)

Pair = tuple[str, datetime]


def unpublished_claims(engine: Any, now: datetime, grace: timedelta) -> list[Pair] | None:
    """Claims older than `grace` and never published (None: the database did not answer)."""
    try:
        with engine.connect() as conn:
            return runstore.unpublished(
                conn, claimed_before=now - grace, since=now - RECOVER_WITHIN
            )
    except runstore.DatabaseError as exc:
        log.warning("cannot look for unpublished runs: %s", exc)
        return None


def recoverable(
    lost: Iterable[Pair], entries: Mapping[str, Entry], now: datetime, ttl: timedelta
) -> tuple[list[Run], list[Pair]]:
    """(runs to republish, claims too old for their catch-up window or without schedule)."""
    runs: list[Run] = []
    stale: list[Pair] = []
    for name, due in lost:
        entry = entries.get(name)
        # Late from its fire time: a jittered run is published after its due time.
        if entry is None or to_utc(now) - entry.fire_at(due) > max(window(entry, due), ttl):
            stale.append((name, due))
        else:
            runs.append(Run(entry, to_utc(due)))
    return runs, stale


def to_republish(
    lost: list[Pair],
    entries: Mapping[str, Entry],
    now: datetime,
    ttl: timedelta,
    *,
    waiting: set[Pair],
    given_up: set[Pair],
) -> list[Run]:
    """The runs to send again, leaving out those this beat sent while the database was
    away (`waiting`) and those already given up; new stale claims join `given_up`."""
    lost = [pair for pair in lost if pair not in waiting and pair not in given_up]
    if not lost:
        return []
    runs, stale = recoverable(lost, entries, now, ttl)
    if stale:
        given_up.update(stale)
        log.warning(
            "%d run(s) claimed and never published are too old to send, or their "
            "schedule is gone; not sent: %s",
            len(stale),
            ", ".join(task_id(n, d) for n, d in stale[:5]),
        )
    if runs:
        log.warning(
            "republishing %d run(s) claimed and never published: %s",
            len(runs),
            ", ".join(task_id(r.name, r.due) for r in runs[:5]),
        )
    return runs

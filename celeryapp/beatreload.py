"""Loading the table into the beat, and reloading what a new revision changed.

A leader loads every enabled row before its first dispatch. Afterwards it notices changes
by the Redis revision key every tick (an integer, never a clock) and by polling the
database revision every `beat_poll_interval` seconds (a lost Redis write is never a lost
change), and reloads only the rows the new revisions name. One bad row is logged and
skipped; it never stops the beat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from celeryapp import runstore
from celeryapp.dueplan import BadRow, Entry, entry_from_row
from celeryapp.settings import revision_key
from celeryapp.shards import Keeper

log = logging.getLogger("celeryapp.beat")

# Reload everything instead of by name when a change names more rows than this.
FULL_RELOAD_NAMES = 20_000


def entry_of(row: dict[str, Any], default_timezone: str) -> Entry | None:
    """The row as an Entry, or None when it cannot be scheduled (logged, never raised)."""
    if not row.get("enabled", True):
        return None
    try:
        return entry_from_row(row, default_timezone=default_timezone)
    except (BadRow, ValueError, OverflowError) as exc:
        log.error("schedule %r skipped: %s", row.get("name"), exc)
        return None


@dataclass
class Loaded:
    """What a leader loads, read together: the revision, the entries of every enabled row
    that can be scheduled, and the pauses (name -> until)."""

    revision: int
    entries: list[Entry]
    pauses: dict[str, datetime | None]


# A long load calls its `progress` callback this often (rows), to renew its locks.
PROGRESS_EVERY = 20_000


def load_entries(
    engine: Any,
    default_timezone: str,
    keep: Keeper | None = None,
    progress: Callable[[], None] | None = None,
) -> Loaded:
    """Every enabled row, or (sharded beats) those of the shards `keep` wants: the
    database picks them, so a beat pays for its own shards.
    `progress` is called every PROGRESS_EVERY rows (a sharded beat renews its locks: a
    million-row load outlasts the lock TTL)."""
    entries: list[Entry] = []
    with engine.connect() as conn:
        revision = runstore.current_revision(conn)
        for count, row in enumerate(runstore.enabled_rows(conn, keep), 1):
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress()
            entry = entry_of(row, default_timezone)
            if entry is not None:
                entries.append(entry)
        paused = runstore.pauses(conn)
    if keep is not None:
        paused = {name: until for name, until in paused.items() if keep(name)}
    return Loaded(revision, entries, paused)


def hinted(client: redis.Redis[bytes] | None, prefix: str, held: int | None) -> bool:
    """Whether Redis says a revision newer than `held` was committed (False without Redis,
    or when it cannot be asked: the poll finds the change)."""
    if client is None:
        return False
    try:
        raw = client.get(revision_key(prefix))
        return raw is not None and int(raw) > (held or 0)
    except (redis.RedisError, OSError, ValueError):
        return False


@dataclass
class Changes:
    """What the revisions after the one held changed: the latest revision, the names,
    their rows (a name without a row was deleted) and their pauses (a name without one
    is not paused; `syncd pause` and `resume` record revisions naming what they touch).
    `full`: too many to reload by name; load everything instead."""

    latest: int
    names: set[str] = field(default_factory=set)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    pauses: dict[str, datetime | None] = field(default_factory=dict)
    full: bool = False


def read_changes(engine: Any, held: int | None) -> Changes | None:
    """The changes since revision `held`; None when there is nothing new."""
    with engine.connect() as conn:
        latest = runstore.current_revision(conn)
        if latest <= (held or 0):
            return None
        names = runstore.changed_names(conn, after=held or 0)
        if len(names) > FULL_RELOAD_NAMES:
            return Changes(latest, names, full=True)
        return Changes(
            latest, names, runstore.rows_named(conn, names), runstore.pauses(conn, names)
        )

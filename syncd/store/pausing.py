"""What `syncd pause` and `syncd resume` write, inside the caller's transaction: the pause
rows and a revision that names the schedules, so a beat sees the change the way it sees an
apply (the revision signal, or its poll), within one tick. No schedule row is touched: a
pause is runtime state, not drift, and an apply leaves it alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from syncd.store.reads import pause_table
from syncd.store.writes import RevisionInfo, insert_revision


def write_pauses(
    conn: Connection,
    names: Sequence[str],
    *,
    reason: str,
    until: datetime | None,
    info: RevisionInfo,
) -> int:
    """Pause `names` (a pause already there is replaced); return the revision."""
    conn.execute(delete(pause_table).where(pause_table.c.name.in_(names)))
    conn.execute(
        insert(pause_table),
        [
            {
                "name": name,
                "reason": reason,
                "actor": info.actor,
                "paused_time": info.now,
                "until_time": until,
            }
            for name in names
        ],
    )
    return _event(conn, "pause", names, reason, info)


def delete_pauses(conn: Connection, names: Sequence[str], *, info: RevisionInfo) -> int | None:
    """Resume `names`; return the revision (None: none of them was paused, nothing written)."""
    held = sorted(
        conn.execute(select(pause_table.c.name).where(pause_table.c.name.in_(names))).scalars()
    )
    if not held:
        return None
    conn.execute(delete(pause_table).where(pause_table.c.name.in_(held)))
    return _event(conn, "resume", held, None, info)


def _event(
    conn: Connection, kind: str, names: Sequence[str], note: str | None, info: RevisionInfo
) -> int:
    event = dataclasses.replace(info, kind=kind, note=note)
    return insert_revision(conn, event, sorted(names), {kind: len(names)}, [])

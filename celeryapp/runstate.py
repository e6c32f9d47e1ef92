"""Run state: each sent run moves its schedule's last due time and run count, in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, update

from celeryapp.models import TaskSchedule

table = cast(Table, TaskSchedule.__table__)


def write(conn: Connection, sent: Sequence[tuple[str, datetime]]) -> None:
    """last_run_time = the latest due time sent, run count + the runs sent, per schedule;
    never moves a last run time backwards."""
    if not sent:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"UPDATE {table.name} AS s SET last_run_time = u.due, "  # noqa: S608 - our table name
            "total_run_count = s.total_run_count + u.n "
            "FROM (SELECT name, max(due) AS due, count(*) AS n FROM "
            "unnest(%(names)s::text[], %(dues)s::timestamptz[]) AS x(name, due) "
            "GROUP BY name) AS u "
            "WHERE s.name = u.name AND (s.last_run_time IS NULL OR s.last_run_time < u.due)",
            {"names": [n for n, _ in sent], "dues": [d for _, d in sent]},
        )
        return
    conn.execute(
        update(table)
        .where(table.c.name == bindparam("b_name"))
        .where(table.c.last_run_time.is_(None) | (table.c.last_run_time < bindparam("b_due")))
        .values(last_run_time=bindparam("b_due"), total_run_count=table.c.total_run_count + 1),
        [{"b_name": n, "b_due": d} for n, d in sent],
    )

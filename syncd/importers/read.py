"""The I/O edges of `syncd import`: fetch a source's records, hand them to `convert`.

Each reader only reads (SELECT, HGET, a file) and never prints a URL unredacted. A source
that cannot be reached is ServiceUnavailable (exit 3); a source that is reachable but is not
what `--from` says (no such table, no such keys) is a SourceError (exit 3, naming what is
missing and where to look).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from celeryapp.redact import redact_url
from syncd.errors import NoDatabase, ServiceUnavailable, SyncdError, UsageError


class SourceError(SyncdError):
    """The source holds no schedules of the kind --from names."""


@contextmanager
def _database(url: str) -> Iterator[Connection]:
    from syncd.store import connect, sqlite_file

    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        raise NoDatabase(f"no database at {redact_url(url)}: the file {path} does not exist")
    try:  # the body only reads: a usage error or a missing driver comes from connecting
        with connect(url) as conn:
            yield conn
    except UsageError:
        raise UsageError(
            f"SOURCE {redact_url(url)!r} is not a SQLAlchemy URL; write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DB, mysql+pymysql://... or sqlite:///PATH"
        ) from None
    except ModuleNotFoundError as exc:
        raise ServiceUnavailable(
            f"the database driver for {redact_url(url).split(':', 1)[0]} is not installed "
            f"(no module {exc.name!r}); install it beside syncd"
        ) from None


def _select(conn: Connection, sql: str) -> list[dict[str, Any]]:
    try:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SourceError(f"reading the source failed: {redact_url(reason)}") from None


# django-celery-beat's tables (its migrations 0001-0019); every time column is UTC when
# Django's USE_TZ is on (its default), stored naive by SQLite.
DJANGO_TASKS = """
SELECT t.*, i.every AS i_every, i.period AS i_period,
       c.minute AS c_minute, c.hour AS c_hour, c.day_of_month AS c_day_of_month,
       c.month_of_year AS c_month_of_year, c.day_of_week AS c_day_of_week,
       c.timezone AS c_timezone, s.event AS s_event, s.latitude AS s_latitude,
       s.longitude AS s_longitude, k.clocked_time AS k_clocked_time
FROM django_celery_beat_periodictask t
LEFT JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id
LEFT JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id
LEFT JOIN django_celery_beat_solarschedule s ON s.id = t.solar_id
LEFT JOIN django_celery_beat_clockedschedule k ON k.id = t.clocked_id
ORDER BY t.name
"""
DJANGO_TIMES = ("expires", "start_time", "last_run_at", "date_changed", "k_clocked_time")


def _nested(row: dict[str, Any], prefix: str, key: str) -> None:
    part = {k[len(prefix) :]: row.pop(k) for k in list(row) if k.startswith(prefix)}
    row[key] = part if any(v is not None for v in part.values()) else None


def _as_datetime(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, str):  # SQLite hands back text for a text() query
        return datetime.fromisoformat(value)
    return value


def django_rows(url: str) -> list[dict[str, Any]]:
    with _database(url) as conn:
        if not inspect(conn).has_table("django_celery_beat_periodictask"):
            raise SourceError(
                f"no django_celery_beat_periodictask table at {redact_url(url)}: give the "
                "URL of the Django project's database (its DATABASES setting)"
            )
        rows = _select(conn, DJANGO_TASKS)
    for row in rows:
        for key in DJANGO_TIMES:
            row[key] = _as_datetime(row.get(key))
        _nested(row, "i_", "interval")
        _nested(row, "c_", "crontab")
        _nested(row, "s_", "solar")
        _nested(row, "k_", "clocked")
    return rows


FBA_TABLES = ("task_scheduler", "sys_task_scheduler")


def fba_rows(url: str, table: str | None) -> list[dict[str, Any]]:
    with _database(url) as conn:
        names = inspect(conn).get_table_names()
        candidates = [table] if table else [t for t in FBA_TABLES if t in names]
        if not candidates or candidates[0] not in names:
            raise SourceError(
                f"no fba schedule table ({table or ' or '.join(FBA_TABLES)}) at "
                f"{redact_url(url)}; name it with --table"
            )
        chosen = candidates[0]
        columns = {c["name"] for c in inspect(conn).get_columns(chosen)}
        if "managed" in columns:
            raise SourceError(
                f"{chosen} at {redact_url(url)} is syncd's own table, not fba's: "
                "use `syncd export` to write its schedules as YAML"
            )
        missing = {"name", "task", "type", "crontab", "interval_every"} - columns
        if missing:
            raise SourceError(f"{chosen} has no column {', '.join(sorted(missing))}: not fba's")
        found = Table(chosen, MetaData(), autoload_with=conn)
        try:
            result = conn.execute(select(found).order_by(found.c.name))
            rows = [dict(r) for r in result.mappings()]
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SourceError(f"reading {chosen} failed: {redact_url(reason)}") from None
    for row in rows:
        for key in ("start_time", "expire_time", "last_run_time"):
            row[key] = _as_datetime(row.get(key))
    return rows


def redbeat_entries(url: str, prefix: str) -> list[tuple[str, Any, Any]]:
    """(key, definition, meta) of every entry under `prefix`, decoded from JSON."""
    import redis

    from celeryapp.clients import new_client

    client = new_client(url, timeout=10)
    special = {prefix + ":schedule", prefix + ":statics", prefix + ":lock"}
    try:
        keys = set(client.zrange(prefix + ":schedule", 0, -1))
        pattern = _glob_escape(prefix) + "*"
        keys.update(client.scan_iter(match=pattern, count=1000, _type="HASH"))
        found = sorted(k.decode() for k in keys if k.decode() not in special)
        entries = []
        for key in found:
            definition, meta = client.hmget(key, ["definition", "meta"])
            if definition is None:
                continue
            entries.append((key, json.loads(definition), json.loads(meta) if meta else {}))
    except redis.RedisError as exc:
        raise ServiceUnavailable(
            f"cannot read RedBeat's keys at {redact_url(url)}: {redact_url(str(exc))}"
        ) from None
    except ValueError as exc:
        raise SourceError(f"a RedBeat entry under {prefix!r} is not JSON: {exc}") from None
    finally:
        client.close()
    if not entries:
        raise SourceError(
            f"no RedBeat entries under the key prefix {prefix!r} at {redact_url(url)} "
            "(set --prefix to the app's redbeat_key_prefix)"
        )
    return entries


def _glob_escape(text_: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text_)


def crontab_text(path: str) -> str:
    if path == "-":
        import sys

        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not UTF-8 text") from None

"""One import, from `--from KIND SOURCE` to an `Imported`: the reader, then the converter."""

from __future__ import annotations

from datetime import datetime

from syncd.errors import UsageError
from syncd.importers import crontab, djangobeat, fba, read, redbeat
from syncd.importers.entries import Imported


def run_import(
    kind: str,
    source: str,
    *,
    now: datetime,
    timezone_name: str | None,
    task: str | None = None,
    prefix: str = "redbeat:",
    table: str | None = None,
    name_prefix: str = "",
    accept_or_days: bool = False,
) -> Imported:
    if kind == "django-celery-beat":
        return djangobeat.convert(read.django_rows(source), now=now, accept_or_days=accept_or_days)
    if kind == "redbeat":
        entries = read.redbeat_entries(source, prefix)
        return redbeat.convert(
            entries, timezone_name=timezone_name or "UTC", accept_or_days=accept_or_days
        )
    if kind == "fba":
        rows = read.fba_rows(source, table)
        zone = timezone_name or fba.DEFAULT_TIMEZONE
        return fba.convert(rows, timezone_name=zone, accept_or_days=accept_or_days)
    if kind == "crontab":
        if not task:
            raise UsageError(
                "import --from crontab needs --task: the Celery task that runs each "
                "line's command (it gets the command as its one argument)"
            )
        return crontab.convert(
            read.crontab_text(source),
            task=task,
            timezone_name=timezone_name or "UTC",
            path=source,
            prefix=name_prefix,
        )
    raise UsageError(f"unknown source kind {kind!r}")

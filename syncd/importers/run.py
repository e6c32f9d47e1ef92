"""One import, from `--from KIND SOURCE` to an `Imported`: the reader, then the converter."""

from __future__ import annotations

from datetime import datetime

from syncd.errors import UsageError
from syncd.importers import crontab, djangobeat, fba, read, redbeat
from syncd.importers.entries import Imported

# Which --from kinds each option means something for; given elsewhere it is a usage error,
# not silently ignored (a --timezone for django-celery-beat would suggest it was applied).
APPLIES = {
    "--timezone": ("redbeat", "fba", "crontab"),
    "--task": ("crontab",),
    "--name-prefix": ("crontab",),
    "--prefix": ("redbeat",),
    "--table": ("fba",),
    "--accept-or-days": ("django-celery-beat", "redbeat", "fba"),
}


def check_options(kind: str, given: dict[str, bool]) -> None:
    for option, is_given in given.items():
        if is_given and kind not in APPLIES[option]:
            kinds = " or ".join(f"--from {k}" for k in APPLIES[option])
            raise UsageError(f"{option} applies to {kinds} only")


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
    check_options(
        kind,
        {
            "--timezone": timezone_name is not None,
            "--task": task is not None,
            "--name-prefix": bool(name_prefix),
            "--prefix": prefix != "redbeat:",
            "--table": table is not None,
            "--accept-or-days": accept_or_days,
        },
    )
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

"""Celery's crontab fields as a five-field cron expression, and what changes in meaning.

The fields are parsed by Celery's own `crontab` (the parser the source scheduler used), so
every name, range, step and wrap-around means exactly what it meant there; the sets it
yields are written back as cron fields. One thing cannot be carried: when both day fields
are restricted, Celery fires on days matching both (AND); cron, and so syncd, fires on days
matching either (OR). Such an entry is imported with that difference reported.
"""

from __future__ import annotations

from collections.abc import Iterable

BOUNDS = {  # field -> (lowest, highest)
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month_of_year": (1, 12),
    "day_of_week": (0, 6),
}
ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def cron_field(values: Iterable[int], low: int, high: int) -> str:
    """{0, 15, 30, 45} -> '*/15'; {1, 2, 3, 7} -> '1-3,7'; every value -> '*'."""
    chosen = sorted(set(values))
    if chosen == list(range(low, high + 1)):
        return "*"
    if len(chosen) > 2 and chosen[0] == low:
        step = chosen[1] - chosen[0]
        if step > 1 and chosen == list(range(low, high + 1, step)):
            return f"*/{step}"
    parts: list[str] = []
    start = prev = chosen[0]
    for value in [*chosen[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        if prev - start >= 2:
            parts.append(f"{start}-{prev}")
        else:
            parts.extend(str(v) for v in range(start, prev + 1))
        if value is not None:
            start = prev = value
    return ",".join(parts)


def and_days_note(day_of_month: str, day_of_week: str) -> str:
    return (
        f"Celery fired only on days matching both day_of_month {day_of_month!r} AND "
        f"day_of_week {day_of_week!r}; cron (and syncd) fires on days matching either. "
        "Review it: no cron expression says AND"
    )


def convert(fields: dict[str, str]) -> tuple[str, list[str]]:
    """Celery crontab fields (strings, as stored) -> (cron expression, notes).
    Raises ValueError with Celery's message when Celery itself would refuse them."""
    from celery.schedules import crontab

    try:
        parsed = crontab(**{k: str(fields.get(k, "*")) for k in ORDER})
    except Exception as exc:
        raise ValueError(f"Celery cannot parse this crontab: {exc}") from exc
    sets = {
        "minute": parsed.minute,
        "hour": parsed.hour,
        "day_of_month": parsed.day_of_month,
        "month_of_year": parsed.month_of_year,
        "day_of_week": parsed.day_of_week,
    }
    out = [cron_field(sets[k], *BOUNDS[k]) for k in ORDER]
    notes = []
    if out[2] != "*" and out[4] != "*":
        notes.append(and_days_note(str(fields["day_of_month"]), str(fields["day_of_week"])))
    return " ".join(out), notes

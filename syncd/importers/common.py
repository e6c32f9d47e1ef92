"""Field conversions every Celery-derived source shares (intervals, times, arguments)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celeryapp import limits
from celeryapp.codec import PERIOD_SECONDS
from syncd.spec import format_duration, format_time

ROUTING = ("queue", "exchange", "routing_key")


def interval(seconds: float) -> str:
    """A source interval as a syncd duration; ValueError when it is not whole seconds."""
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(
            f"an interval of {seconds:g} s cannot be carried: syncd intervals are whole "
            "seconds, at least 1s"
        )
    return format_duration(int(seconds))


def period_interval(every: Any, period: str | None) -> str:
    """`every` periods (days, hours, minutes, seconds, microseconds) as a syncd duration."""
    if not isinstance(every, int | float) or isinstance(every, bool):
        raise ValueError(f"interval every={every!r} is not a number")
    if period == "microseconds":
        return interval(every / 1_000_000)
    if period not in PERIOD_SECONDS:
        raise ValueError(f"interval period {period!r} is not days, hours, minutes or seconds")
    return interval(every * PERIOD_SECONDS[period])


def priority_field(value: Any) -> tuple[dict[str, int], str | None]:
    """A Celery message priority as syncd's `priority` field, with a note when syncd
    cannot hold it (not a whole number from 0 to 255, the field's range)."""
    if value is None:
        return {}, None
    low, high = limits.PRIORITY_MIN, limits.PRIORITY_MAX
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return {"priority": value}, None
    return (
        {},
        f"priority {value!r} is not carried: syncd priorities are whole numbers {low} to {high}",
    )


_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def headers_field(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """Celery message headers as syncd's `headers` field, with a note for each header syncd
    cannot carry (a name Celery or syncd sets itself, or one outside the field's rules)."""
    from syncd.rules import CELERY_HEADERS, SYNCD_HEADER_PREFIX

    value = json_dict(raw, "headers")
    if not value:
        return {}, []
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for name, item in value.items():
        if name.lower() in CELERY_HEADERS or name.lower().startswith(SYNCD_HEADER_PREFIX):
            notes.append(
                f"header {name!r} is not carried: Celery or syncd sets it on every message"
            )
        elif not _HEADER_NAME.match(name):
            notes.append(f"header {name!r} is not carried: names are letters, digits and _ . -")
        elif not isinstance(item, str | int | float | bool):
            notes.append(f"header {name!r} is not carried: values are text, numbers or booleans")
        else:
            kept[name] = item
    return ({"headers": kept} if kept else {}), notes


def aware(value: datetime, zone: Any = UTC) -> datetime:
    """A stored time with its zone: naive values are read in `zone` (UTC unless told)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def time_text(value: datetime) -> str:
    return format_time(aware(value).replace(microsecond=0))


def json_list(raw: Any, what: str) -> list[Any] | None:
    """Positional arguments stored as JSON text (or already decoded); None when empty."""
    value = _decoded(raw, what)
    if value in (None, []):
        return None
    if not isinstance(value, list):
        raise ValueError(f"{what} is {type(value).__name__}, not a list")
    return value


def json_dict(raw: Any, what: str) -> dict[str, Any] | None:
    value = _decoded(raw, what)
    if value in (None, {}):
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is {type(value).__name__}, not a mapping")
    return value


def _decoded(raw: Any, what: str) -> Any:
    # fba stores a JSON string inside a JSON column (its W9): decode until not a string.
    for _ in range(3):
        if not isinstance(raw, str | bytes):
            return raw
        if not raw.strip():
            return None
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{what} is not JSON: {exc}") from exc
    return raw


def call_fields(
    args: Any, kwargs: Any, routing: Mapping[str, Any], keys: tuple[str, ...] = ROUTING
) -> dict[str, Any]:
    """What every Celery source stores the same way: the task's arguments (JSON) and its
    routing options (empty ones left out)."""
    out: dict[str, Any] = {}
    decoded_args, decoded_kwargs = json_list(args, "args"), json_dict(kwargs, "kwargs")
    if decoded_args is not None:
        out["args"] = decoded_args
    if decoded_kwargs is not None:
        out["kwargs"] = decoded_kwargs
    out.update({k: routing[k] for k in keys if text_or_none(routing.get(k))})
    return out


def text_or_none(value: Any) -> str | None:
    """Optional text columns: empty strings (Django's blank) mean not set."""
    return value if isinstance(value, str) and value.strip() else None

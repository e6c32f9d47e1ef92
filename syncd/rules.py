"""Semantic rules the schema cannot express, checked on schema-valid schedules.

Each rule returns positioned diagnostics; `build` turns a merged, checked mapping into a
`syncd.spec.Schedule`. The cron rule uses the beat's own timetable code, so "valid" here
means exactly "the beat can schedule it".
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from celeryapp import codec
from celeryapp.dueplan import cron_timetable
from celeryapp.schedules import CronError, CronTimetable, expand_cron
from celeryapp.timezones import HOST_DEPENDENT, is_timezone
from syncd import bounds
from syncd.document import Document, PathKey
from syncd.errors import Diagnostic, did_you_mean
from syncd.loader import DEFAULT_SIZE_LIMITS, SizeLimits
from syncd.spec import Schedule, Source, parse_duration

# 2: column bounds, characters, YAML 1.1 in args (issue 10); 3: headers; 4: jitter
RULES_VERSION = "4"

_CRON_FIELD_RE = re.compile(r"^[0-9A-Za-z*,/-]+$")
_CRON_NAMES = frozenset(
    "jan feb mar apr may jun jul aug sep oct nov dec sun mon tue wed thu fri sat".split()
)
_WORD_RE = re.compile(r"[A-Za-z]+")
_CRON_RANGES = {
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31",
    "month": "1-12 or jan-dec",
    "day-of-week": "0-7 or sun-sat (0 and 7 are Sunday)",
}
# Where the beat starts looking when deciding "can this cron ever fire".
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A cron's shortest gap (for `jitter`) is the shortest among this many due times from a
# fixed instant, so a file validates the same on any day: 1000 days of a daily cron cover
# two of every DST transition.
_GAP_FROM = datetime(2026, 1, 1, tzinfo=UTC)
_GAP_SAMPLES = 1000


@cache
def available_timezones() -> frozenset[str]:
    """Every IANA key on this machine: for did-you-mean hints only (listing them reads
    every zone file, 30 ms; `is_timezone` answers one key without that)."""
    return frozenset(zoneinfo.available_timezones())


def parse_time(text: str) -> datetime | None:
    """RFC 3339 with an offset ('Z' allowed); None if naive or malformed."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _diag(doc: Document, at: PathKey, code: str, message: str, *, key: bool = False) -> Diagnostic:
    mark = doc.mark(at, key=key)
    return Diagnostic(doc.path, mark.line, mark.column, code, message)


def check_cron(doc: Document, at: PathKey, expr: str, tz: str) -> list[Diagnostic]:
    text = expr.strip()
    if not text.startswith("@"):
        parts = text.split()
        if len(parts) != 5:
            return [
                _diag(
                    doc,
                    at,
                    "cron.fields",
                    f"cron {expr!r} has {len(parts)} fields; write five: "
                    "minute hour day-of-month month day-of-week",
                )
            ]
        for part in parts:
            words = {w.lower() for w in _WORD_RE.findall(part)}
            if not _CRON_FIELD_RE.match(part) or words - _CRON_NAMES:
                return [
                    _diag(
                        doc,
                        at,
                        "cron.syntax",
                        f"cron {expr!r}: {part!r} is not standard cron "
                        "(use numbers, names, *, ranges a-b, lists a,b and steps /n)",
                    )
                ]
    try:
        expand_cron(text)
        zone = zoneinfo.ZoneInfo(tz) if is_timezone(tz) else zoneinfo.ZoneInfo("UTC")
        cron_timetable(text, zone.key)
    except CronError as exc:
        if "day-of-month" in str(exc) and _parses_with_any_day(text, zone):
            # cronsim rejects a day that no listed month has (31 Feb) at parse time.
            return [
                _diag(
                    doc,
                    at,
                    "cron.never-fires",
                    f"cron {expr!r} can never fire (no month has that day)",
                )
            ]
        field = str(exc).rsplit("Bad ", 1)[-1] if "Bad " in str(exc) else ""
        allowed = _CRON_RANGES.get(field)
        hint = f" ({field} takes {allowed})" if allowed else ""
        return [
            _diag(doc, at, "cron.syntax", f"{exc}{hint}; see docs/schedules.md#cron for the syntax")
        ]
    if not _fires(text, zone.key):
        return [
            _diag(doc, at, "cron.never-fires", f"cron {expr!r} can never fire (no date matches it)")
        ]
    return []


@lru_cache(maxsize=4096)
def _fires(text: str, zone: str) -> bool:
    return cron_timetable(text, zone).can_fire(_EPOCH)


def _parses_with_any_day(text: str, zone: zoneinfo.ZoneInfo) -> bool:
    parts = expand_cron(text).split()
    parts[2] = "1"
    try:
        CronTimetable(" ".join(parts), zone)
    except CronError:
        return False
    return True


Where = Callable[[str], PathKey]  # where a field was written: the schedule or its defaults


def check_schedule(
    doc: Document,
    at: PathKey,
    merged: Mapping[str, Any],
    origin: Mapping[str, PathKey],
    *,
    default_timezone: str,
    registry: Collection[str] | None,
    size: SizeLimits = DEFAULT_SIZE_LIMITS,
) -> list[Diagnostic]:
    """All per-schedule semantic rules; `origin` maps each field to where it was written
    (the schedule itself or the file's defaults)."""

    def where(field: str) -> PathKey:
        return origin.get(field, at)

    # Characters, magnitudes and args first: what passes them is safe to compare and parse.
    bounded = (
        bounds.check_text(doc, merged, where)
        + bounds.check_magnitudes(doc, merged, where)
        + bounds.check_arguments(doc, merged, where, size)
    )
    if bounded:
        return bounded
    out = _check_timezone(doc, merged, where)
    if "cron" in merged:
        zone = merged.get("timezone") or default_timezone
        out += check_cron(doc, where("cron"), merged["cron"], zone)
    out += _check_durations(doc, merged, where)
    if not out:
        out += _check_jitter(doc, merged, where, default_timezone)
    out += _check_times(doc, merged, where)
    out += _check_headers(doc, merged, where)
    if registry is not None:
        out += _check_task(doc, merged, where, registry)
    return out


def _check_timezone(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    tz = merged.get("timezone")
    if tz in HOST_DEPENDENT:
        message = f"timezone {tz!r} {HOST_DEPENDENT[tz]}; name the zone, like Europe/Berlin"
        return [_diag(doc, where("timezone"), "timezone.host-dependent", message)]
    if tz is not None and not is_timezone(tz):
        fix = did_you_mean(tz, available_timezones()) or " (use an IANA name like Europe/Berlin)"
        message = f"timezone {tz!r} is not an IANA time zone{fix}"
        return [_diag(doc, where("timezone"), "timezone.unknown", message)]
    return []


# The headers Celery's protocol 2 sets on every message (celery.app.amqp.as_task_v2), and
# syncd's own prefix (celeryapp.tasklog): a schedule naming one would change what a worker
# or the once-only check reads.
CELERY_HEADERS = frozenset(
    {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
)  # fmt: skip
SYNCD_HEADER_PREFIX = "syncd_"


def _check_headers(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    out = []
    for header in merged.get("headers") or {}:
        at = (*where("headers"), header)
        if header.lower() in CELERY_HEADERS:
            message = (
                f"header {header!r} is one Celery sets on every message (protocol 2); "
                f"name yours differently, like 'x-{header.lower()}'"
            )
            out.append(_diag(doc, at, "headers.reserved", message, key=True))
        elif header.lower().startswith(SYNCD_HEADER_PREFIX):
            message = (
                f"header {header!r} starts with {SYNCD_HEADER_PREFIX!r}, which syncd's own "
                "headers use (schedule, due time, overlap); choose another name"
            )
            out.append(_diag(doc, at, "headers.reserved", message, key=True))
    return out


def _check_durations(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    out = []
    for field in ("every", "catchup_window", "jitter"):
        if field not in merged:
            continue
        seconds = parse_duration(merged[field])
        if seconds is None or seconds < 1:
            message = f"{field}: {merged[field]!r} is shorter than 1s"
            out.append(_diag(doc, where(field), "duration.too-short", message))
    return out


@lru_cache(maxsize=4096)
def cron_shortest_gap(text: str, zone: str) -> int | None:
    """The shortest gap in seconds between two due times of a cron in a zone (None: it
    fires once at most in the samples)."""
    gap = cron_timetable(text, zone).shortest_gap(_GAP_FROM, _GAP_SAMPLES)
    return None if gap is None else int(gap.total_seconds())


def _check_jitter(
    doc: Document, merged: Mapping[str, Any], where: Where, default_timezone: str
) -> list[Diagnostic]:
    """A jitter shorter than the period: each due time is published before the next one
    is due, so runs keep their order and one due time never lands on the next."""
    text = merged.get("jitter")
    jitter = parse_duration(text) if isinstance(text, str) else None
    if jitter is None:
        return []
    if "every" in merged:
        every = parse_duration(merged["every"])
        if every is not None and jitter >= every:
            message = (
                f"jitter {text} is not shorter than every: {merged['every']}; each run would "
                f"be published after the next one is due (use a jitter below "
                f"{codec.format_duration(every)})"
            )
            return [_diag(doc, where("jitter"), "jitter.too-long", message)]
        return []
    if "cron" not in merged or jitter < 60:  # no cron fires twice within a minute
        return []
    zone = merged.get("timezone") or default_timezone
    gap = cron_shortest_gap(merged["cron"], zone)
    if gap is not None and jitter >= gap:
        message = (
            f"jitter {text} is not shorter than the shortest gap between two due times of "
            f"cron {merged['cron']!r} ({codec.format_duration(gap)} in {zone}); each run "
            f"would be published after the next one is due (use a jitter below "
            f"{codec.format_duration(gap)})"
        )
        return [_diag(doc, where("jitter"), "jitter.too-long", message)]
    return []


def _check_times(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    """start_time and expires parse, and expires is after start_time; one expiry only."""
    out = []
    times: dict[str, datetime] = {}
    for field in ("start_time", "expires"):
        if field not in merged:
            continue
        parsed = parse_time(merged[field])
        if parsed is None:
            message = (
                f"{field}: {merged[field]!r} is not a valid RFC 3339 time "
                "with an offset (e.g. 2026-03-01T09:00:00+01:00)"
            )
            out.append(_diag(doc, where(field), "time.invalid", message))
        else:
            times[field] = parsed
    if "start_time" in times and "expires" in times and times["start_time"] >= times["expires"]:
        message = (
            f"expires {merged['expires']} is not after start_time "
            f"{merged['start_time']}; the schedule could never fire"
        )
        out.append(_diag(doc, where("expires"), "time.expires-before-start", message))
    if "expires" in merged and "expire_seconds" in merged:
        message = (
            "set either `expires` or `expire_seconds`, not both (one of them comes from `defaults`)"
        )
        out.append(_diag(doc, where("expire_seconds"), "schema.expires-conflict", message))
    return out


def _check_task(
    doc: Document, merged: Mapping[str, Any], where: Where, registry: Collection[str]
) -> list[Diagnostic]:
    task = merged.get("task", "")
    if merged.get("task") in registry:
        return []
    fix = did_you_mean(task, registry) or " (is the module imported by the app?)"
    message = f"task {task!r} is not registered in the Celery app{fix}"
    return [_diag(doc, where("task"), "task.unknown", message)]


# kind -> YAML value (already checked) -> typed value; absent: taken as written.
_DECODE: dict[str, Any] = {
    "duration": parse_duration,
    "instant": parse_time,
    "bool": bool,
}


def build(merged: Mapping[str, Any], source: Source, source_hash: str) -> Schedule:
    """A checked mapping as a Schedule value (durations in seconds, aware datetimes).

    Driven by the field declaration (celeryapp.codec): a key the YAML leaves out takes
    the field's default."""
    values: dict[str, Any] = {}
    for f in codec.FIELDS:
        if f.name not in merged:
            continue
        value = merged[f.name]
        decode = _DECODE.get(f.kind)
        if decode is not None:
            value = decode(value)
        elif f.name == "args" and value is not None:
            value = tuple(value)
        elif f.name in ("kwargs", "headers") and value is not None:
            value = dict(value)
        values[f.name] = value
    return Schedule(**values, source=source, source_hash=source_hash)

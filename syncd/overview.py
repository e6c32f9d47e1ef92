"""Reading what `syncd list`, `syncd show` and the page report: the rows, pauses and
recent dispatches from the database, and the runs' results from the result backend by
task id, in batches. A result backend that cannot be read is a warning, never a failed
listing: the schedule side of the answer still holds. The judging is syncd.listing's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from celeryapp.settings import Settings
from syncd.errors import ServiceUnavailable, UnknownSchedule, did_you_mean
from syncd.listing import Result, View, view

# Runs kept per schedule for `list` (enough to count failures in a row) and by default
# for `show`.
LIST_RUNS = 10
SHOW_RUNS = 20
SHOW_REVISIONS = 10
SHOW_NEXT = 5
_BATCH = 1000


def late_after(settings: Settings) -> timedelta:
    """A due time older than this and not dispatched is late: a healthy leader sends it
    within a tick, and a failover takes at most a lock TTL and a tick."""
    return timedelta(seconds=settings.beat_lock_ttl + 2 * settings.beat_max_interval)


def read_results(
    settings: Settings, task_ids: Sequence[str], warn: Callable[[str], None]
) -> dict[str, Result]:
    """The stored results of these task ids (a task id without one is left out)."""
    if not task_ids:
        return {}
    backend_url = settings.result_backend or f"db+{settings.database_url}"
    try:
        if backend_url.startswith("db+"):
            return _from_database(backend_url[3:], task_ids)
        return _from_celery(settings, task_ids)
    except Exception as exc:  # noqa: BLE001 - any backend failure: report, list anyway
        reason = ServiceUnavailable.at("read run results from", backend_url, exc).message
        warn(f"warning: {reason}; outcomes are shown as sent")
        return {}


def _from_database(url: str, task_ids: Sequence[str]) -> dict[str, Result]:
    from syncd import store

    if not store.database_exists(url):
        return {}
    with store.connect(url) as conn:
        rows = store.result_rows(conn, task_ids)
    return {
        tid: Result(r["status"], _aware(r.get("date_done")), r.get("worker"))
        for tid, r in rows.items()
    }


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Celery's database backend stores naive UTC datetimes.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _from_celery(settings: Settings, task_ids: Sequence[str]) -> dict[str, Result]:
    """Any other backend through Celery's own API: one round trip per batch where the
    backend is a key-value store (Redis), per task id otherwise."""
    from celeryapp.app import make_app

    backend = make_app(settings).backend
    out: dict[str, Result] = {}
    metas: list[tuple[str, Any]] = []
    if hasattr(backend, "mget") and hasattr(backend, "get_key_for_task"):
        for start in range(0, len(task_ids), _BATCH):
            chunk = list(task_ids[start : start + _BATCH])
            values = backend.mget([backend.get_key_for_task(t) for t in chunk])
            metas += [
                (t, backend.decode_result(v)) for t, v in zip(chunk, values, strict=True) if v
            ]
    else:
        metas = [(t, backend.get_task_meta(t)) for t in task_ids]
    for tid, meta in metas:
        status = meta.get("status")
        if not status or status == "PENDING":
            continue
        finished = meta.get("date_done")
        if isinstance(finished, str):
            finished = datetime.fromisoformat(finished)
        out[tid] = Result(status, _aware(finished), meta.get("worker"))
    return out


def _rows(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Every row, every pause and the recent dispatches, on one connection."""
    from syncd import store

    store.require_database(settings.database_url)
    try:
        with store.connect(settings.database_url) as conn:
            rows = store.overview_rows(conn)
            pauses = store.pauses(conn)
            dispatches = store.recent_dispatches(conn, per_schedule=LIST_RUNS)
    except store.DatabaseError as exc:
        raise ServiceUnavailable.at("read schedules from", settings.database_url, exc) from exc
    return rows, pauses, dispatches


def views(
    settings: Settings, warn: Callable[[str], None], *, now: datetime | None = None
) -> list[View]:
    """Every schedule in the table, by name."""
    now = now or datetime.now(UTC)
    rows, pauses, dispatches = _rows(settings)
    ids = [d.task_id for ds in dispatches.values() for d in ds]
    results = read_results(settings, ids, warn)
    return sorted(
        (
            view(
                row,
                pause=pauses.get(row["name"]),
                dispatches=dispatches.get(row["name"], []),
                results=results,
                now=now,
                default_timezone=settings.timezone,
                late_after=late_after(settings),
            )
            for row in rows
        ),
        key=lambda v: v.name,
    )


def detail(
    settings: Settings,
    name: str,
    warn: Callable[[str], None],
    *,
    runs: int = SHOW_RUNS,
    revisions: int = SHOW_REVISIONS,
    now: datetime | None = None,
) -> tuple[View, list[dict[str, Any]]]:
    """One schedule with its last `runs` runs, and the last `revisions` that changed it."""
    from syncd import store

    now = now or datetime.now(UTC)
    store.require_database(settings.database_url)
    try:
        with store.connect(settings.database_url) as conn:
            row = store.schedule_row(conn, name)
            if row is None:
                known = store.schedule_names(conn)
                raise UnknownSchedule(
                    f"no schedule named {name!r} in the database{did_you_mean(name, known, n=3)}"
                )
            pause = store.pauses(conn).get(name)
            dispatches = store.recent_dispatches(conn, per_schedule=runs, names=[name])
            changed = store.revisions_naming(conn, name, limit=revisions)
    except store.DatabaseError as exc:
        raise ServiceUnavailable.at("read schedules from", settings.database_url, exc) from exc
    mine = dispatches.get(name, [])
    results = read_results(settings, [d.task_id for d in mine], warn)
    shown = view(
        row,
        pause=pause,
        dispatches=mine,
        results=results,
        now=now,
        default_timezone=settings.timezone,
        late_after=late_after(settings),
        upcoming_count=SHOW_NEXT,
    )
    return shown, changed

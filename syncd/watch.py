"""`syncd watch`: apply, then re-apply on every change to the schedule files.

Changes are debounced by watchfiles (editors that save by rename, new and deleted files and
whole directories all arrive as one batch). An invalid edit is reported with its positioned
errors and changes nothing: the last good state stays applied, and the next valid save
applies. Each apply prints one line (or one JSON object). SIGTERM and Ctrl-C only set the
stop event; the loop finishes the apply in progress and returns.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celeryapp.redact import redact_url
from syncd.errors import InvalidSchedules, Refused, SyncdError, plural
from syncd.store import DatabaseError
from syncd.sync import Options, apply

FORMATS = ("text", "json")  # one line per apply; markdown and github are refused (exit 64)


def _line(event: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(event, ensure_ascii=False)
    stamp = event["time"]
    if event["status"] == "invalid":
        return f"{stamp} invalid: {plural(len(event['errors']), 'error')}; nothing changed\n" + (
            "\n".join(event["errors"])
        )
    if event["status"] == "error":
        return f"{stamp} error: {event['error']}"
    if event["status"] == "refused":
        return (
            f"{stamp} refused: "
            + "; ".join(r["message"] for r in event["refused"])
            + ("; nothing changed")
        )
    s = event["summary"]
    what = (
        f"revision {event['revision']}: {s['create']} created, {s['update']} updated, "
        f"{s['delete']} deleted"
        if event["revision"]
        else "no changes"
    )
    return f"{stamp} applied: {what} ({event['seconds'] * 1000:.0f} ms)"


def apply_once(url: str, options: Options, *, lock_timeout: float) -> dict[str, Any]:
    """One pass of the pipeline (it signals the beat itself), as one event."""
    started = time.perf_counter()
    event: dict[str, Any] = {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        plan, revision = apply(url, options, lock_timeout=lock_timeout)
    except InvalidSchedules as exc:
        return {**event, "status": "invalid", "errors": [str(d) for d in exc.diagnostics]}
    except Refused as exc:
        # A guard refused the plan: the transaction rolled back, the last good state stays.
        return {
            **event,
            "status": "refused",
            "refused": [{"guard": r.guard, "message": r.message} for r in exc.refusals],
            "summary": exc.plan.summary(),
        }
    except SyncdError as exc:
        return {**event, "status": "error", "error": redact_url(exc.message)}
    except DatabaseError as exc:
        # The database went away mid-apply (restart, failover): the transaction rolled back,
        # nothing changed; the next save tries again on a fresh connection.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return {**event, "status": "error", "error": f"database error: {redact_url(reason)}"}
    return {
        **event,
        "status": "applied",
        "revision": revision,
        "summary": plan.summary(),
        "changed": plan.changed_names,
        "seconds": round(time.perf_counter() - started, 4),
    }


def watch(
    url: str,
    options: Options,
    *,
    lock_timeout: float,
    fmt: str,
    emit: Callable[[str], None],
    max_applies: int | None = None,
    debounce_ms: int = 200,
    stop: threading.Event | None = None,
) -> int:
    """Run until stopped (or `max_applies` applies). Returns the number of applies."""
    from watchfiles import watch as watch_files

    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    applies = 0
    try:
        emit(_line(apply_once(url, options, lock_timeout=lock_timeout), fmt))
        applies += 1
        if max_applies is not None and applies >= max_applies:
            return applies
        for _changes in watch_files(
            *options.paths,
            stop_event=stop,
            debounce=debounce_ms,
            step=50,
            raise_interrupt=False,
            yield_on_timeout=False,
        ):
            emit(_line(apply_once(url, options, lock_timeout=lock_timeout), fmt))
            applies += 1
            if max_applies is not None and applies >= max_applies:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return applies

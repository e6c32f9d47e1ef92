"""`syncd trigger NAME [--wait]`: run a schedule's task now, the way the beat would send it.

Order of checks (fba checked workers before the row, and sent without the row's routing,
W15): the schedule must exist (exit 1, with a did-you-mean) and must not have expired; the
broker must answer and at least one worker must answer a ping (exit 3, `NoWorkers`); then
the workers that answered are asked which queues they consume and which tasks they know,
and a warning says so when none of them would run this message (a ping proves little).

The message carries the schedule's own args, kwargs, queue, exchange, routing key and
expiry. Its id is `NAME@manual-<uuid>`: it never collides with a beat id (`NAME@DUE`) and
is not subject to the once-only check; the overlap guard of an `overlap: skip` schedule
still applies, because it protects the task, however the run was started.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from celeryapp.dueplan import BadRow, Entry, entry_from_row, message, message_expiry
from celeryapp.redact import redact_url
from celeryapp.settings import Settings
from syncd.errors import (
    EXIT_OK,
    NoWorkers,
    ScheduleExpired,
    ServiceUnavailable,
    TaskFailed,
    UnknownSchedule,
    UnschedulableRow,
    WaitTimeout,
    did_you_mean,
)

# What to send for one schedule: the row as the beat loads it (one decoding, dueplan's).
Target = Entry


def manual_task_id(name: str) -> str:
    return f"{name}@manual-{uuid.uuid4().hex}"


def load_target(settings: Settings, name: str) -> Target:
    """The schedule row, or UnknownSchedule with the closest names in the table."""
    from syncd import store

    try:
        with store.connect(settings.database_url) as conn:
            if not store.has_schema(conn):
                raise UnknownSchedule(
                    f"no schedule named {name!r}: the database has no schedules yet "
                    "(run `syncd apply`)"
                )
            r = store.schedule_row(conn, name)
            if r is None:
                names = store.schedule_names(conn)
                raise UnknownSchedule(
                    f"no schedule named {name!r} in the database."
                    + did_you_mean(name, names, n=3, lead=" ")
                )
    except store.DatabaseError as exc:
        raise ServiceUnavailable.at("read schedules from", settings.database_url, exc) from exc
    try:
        return entry_from_row(r, default_timezone=settings.timezone)
    except BadRow as exc:
        raise UnschedulableRow(f"schedule {name!r} cannot be run: {exc}") from None


def check_workers(app: Any, target: Target, ping_timeout: float) -> list[str]:
    """Ping workers (NoWorkers if none answer); return warnings about who would run this."""
    from kombu.exceptions import OperationalError

    broker = redact_url(app.conf.broker_url or "")
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=ping_timeout)
        replies = app.control.ping(timeout=ping_timeout) or []
    except (OperationalError, OSError) as exc:
        raise ServiceUnavailable(f"cannot reach the broker {broker}: {exc}") from exc
    hosts = sorted(host for reply in replies for host in reply)
    if not hosts:
        raise NoWorkers(
            f"no Celery worker answered a ping on {broker} within {ping_timeout:g}s; "
            "start one (celery -A celeryapp.app worker -P gevent -c 100) and try again"
        )
    inspect = app.control.inspect(destination=hosts, timeout=ping_timeout, limit=len(hosts))
    warnings: list[str] = []
    queue = target.options.get("queue")
    if not target.options.keys() & {"queue", "exchange", "routing_key"}:
        queue = app.conf.task_default_queue
    active = inspect.active_queues() or {}
    consumers = [h for h, queues in active.items() if any(q.get("name") == queue for q in queues)]
    if queue is not None and active and not consumers:
        warnings.append(
            f"no worker that answered ({', '.join(hosts)}) consumes queue {queue!r}; "
            "the task waits there until one does"
        )
    registered = inspect.registered() or {}
    knowing = [h for h, tasks in registered.items() if target.task in tasks]
    if registered and not knowing:
        warnings.append(
            f"no worker that answered has task {target.task!r} registered; it will fail "
            "as unregistered"
        )
    return warnings


def send(app: Any, target: Target, now: datetime) -> str:
    """Send the beat's message for `target`, due now, marked manual."""
    msg = message(target, now, task_id=manual_task_id(target.name), manual=True)
    app.send_task(
        msg.task,
        args=msg.args,
        kwargs=msg.kwargs,
        task_id=msg.task_id,
        headers=msg.headers,
        **msg.options,
    )
    return msg.task_id


def wait_for(app: Any, task_id: str, timeout: float) -> tuple[str, Any]:
    """Poll the result backend until the run is done (or dropped by the overlap guard)."""
    from celery.result import AsyncResult
    from celery.states import READY_STATES

    from celeryapp.base import SKIPPED

    result = AsyncResult(task_id, app=app)
    deadline = time.monotonic() + timeout
    while True:
        state = str(result.state)
        if state in READY_STATES or state == SKIPPED:
            return state, result.result
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"task {task_id} was sent but did not finish within {timeout:g}s "
                f"(state {state}); look it up later by its id"
            )
        time.sleep(0.2)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"error": value.__class__.__name__, "message": str(value)}
    try:
        json.dumps(value)
    except TypeError:
        return repr(value)
    return value


def render_report(report: Mapping[str, Any], fmt: str) -> str:
    """What `trigger` prints once the task is sent (and, with --wait, finished)."""
    if fmt == "json":
        return json.dumps(report)
    done = "state" in report
    result = json.dumps(report.get("result"))
    if fmt == "markdown":
        lines = [
            f"### syncd trigger `{report['schedule']}`",
            "",
            f"- task `{report['task']}`, id `{report['task_id']}`",
        ]
        if done:
            lines.append(f"- {report['state']}: `{result}`")
        return "\n".join(lines)
    if fmt == "github":
        what = f"{report['task']} sent as {report['task_id']}"
        if done:
            what += f"; {report['state']} {result}"
        level = "notice" if not done or report["state"] == "SUCCESS" else "error"
        return f"::{level} title=syncd trigger {report['schedule']}::{what}"
    return f"{report['state']} {result}" if done else str(report["task_id"])


def trigger(
    settings: Settings,
    name: str,
    *,
    wait: bool,
    timeout: float,
    ping_timeout: float,
    output_format: str,
    out: Callable[[str], None],
    err: Callable[[str], None],
) -> int:
    """The body of `syncd trigger`; raises SyncdError subclasses for the CLI to map.
    `out` prints a line on stdout at once (a person sees the id while --wait waits), `err`
    on stderr."""
    from celeryapp.app import make_app

    target = load_target(settings, name)
    now = datetime.now(UTC)
    expires = message_expiry(target, now)
    if expires is not None and expires <= now:
        raise ScheduleExpired(
            f"schedule {name!r} expired at {expires.isoformat()}; it no longer runs "
            "(change `expires` in its YAML to run it again)"
        )
    app = make_app(settings)
    try:
        warnings = check_workers(app, target, ping_timeout)
        if not target.enabled:
            warnings.append(f"schedule {name!r} is disabled; running it because you asked")
        for warning in warnings:
            err(f"warning: {warning}")
        task_id = send(app, target, now)
        report: dict[str, Any] = {
            "schedule": name,
            "task": target.task,
            "task_id": task_id,
            "queue": target.options.get("queue"),
            "warnings": warnings,
        }
        if output_format == "text":
            out(task_id)
        if not wait:
            if output_format != "text":
                out(render_report(report, output_format))
            return EXIT_OK
        state, result = wait_for(app, task_id, timeout)
        report.update(state=state, result=_jsonable(result))
        out(render_report(report, output_format))
        if state != "SUCCESS":
            detail = f": {result}" if isinstance(result, BaseException) else ""
            raise TaskFailed(f"task {task_id} ended in state {state}{detail}")
        return EXIT_OK
    finally:
        app.close()

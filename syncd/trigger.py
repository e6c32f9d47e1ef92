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

import dataclasses
import difflib
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from celeryapp.redact import redact_url
from celeryapp.settings import Settings
from syncd.errors import (
    EXIT_INVALID,
    EXIT_OK,
    NoWorkers,
    ServiceUnavailable,
    SyncdError,
    UnknownSchedule,
)
from syncd.terminal import NO_COLOR_OPTION, complete_schedule_name

DEFAULT_PING_TIMEOUT = 1.0
DEFAULT_WAIT_TIMEOUT = 60.0


class ScheduleExpired(SyncdError):
    """The schedule has expired; it no longer runs. Change `expires` in its YAML first."""

    exit_code = EXIT_INVALID


class TaskFailed(SyncdError):
    """The triggered task ran and failed; see the worker's log for the traceback."""


class WaitTimeout(SyncdError):
    """The task was sent but did not finish in time; look it up later by its id."""


@dataclasses.dataclass(frozen=True)
class Target:
    """What to send for one schedule: the table row's fields the message needs."""

    name: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None
    exchange: str | None
    routing_key: str | None
    expire_time: datetime | None
    expire_seconds: int | None
    overlap: str
    enabled: bool


def manual_task_id(name: str) -> str:
    return f"{name}@manual-{uuid.uuid4().hex}"


def message_expiry(target: Target, now: datetime) -> datetime | None:
    """The earlier of the schedule's expiry and now + expire_seconds (None: never)."""
    candidates = []
    if target.expire_time is not None:
        candidates.append(target.expire_time)
    if target.expire_seconds is not None:
        candidates.append(now + timedelta(seconds=target.expire_seconds))
    return min(candidates) if candidates else None


def did_you_mean(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if not close:
        return ""
    return " did you mean " + " or ".join(repr(c) for c in close) + "?"


def settings_for(ctx: click.Context | None) -> Settings:
    """Settings from the environment, overridden by the global CLI options when given."""
    env = dict(os.environ)
    root = ctx.find_root() if ctx is not None else None
    sources: list[Mapping[str, Any]] = []
    if root is not None:
        sources.append(root.params)
        obj = root.obj
        if isinstance(obj, Mapping):
            sources.append(obj)
        elif obj is not None:
            sources.append(vars(obj) if hasattr(obj, "__dict__") else {})
    for source in sources:
        for option, variable in (
            ("database_url", "SYNCD_DATABASE_URL"),
            ("redis_url", "SYNCD_REDIS_URL"),
        ):
            value = source.get(option)
            if isinstance(value, str) and value:
                env[variable] = value
        settings = source.get("settings")
        if isinstance(settings, Settings):
            return settings
    return Settings.from_env(env)


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
                    f"no schedule named {name!r} in the database.{did_you_mean(name, names)}"
                )
    except store.DatabaseError as exc:
        raise ServiceUnavailable(
            f"cannot read schedules from {redact_url(settings.database_url)}: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        ) from exc
    return Target(
        name=r["name"],
        task=r["task"],
        args=list(r["args"] or []),
        kwargs=dict(r["kwargs"] or {}),
        queue=r["queue"],
        exchange=r["exchange"],
        routing_key=r["routing_key"],
        expire_time=r["expire_time"],
        expire_seconds=r["expire_seconds"],
        overlap=r["overlap"] or "allow",
        enabled=bool(r["enabled"]),
    )


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
    queue = target.queue
    if queue is None and target.exchange is None and target.routing_key is None:
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
    from celeryapp.tasklog import HEADER_OVERLAP, HEADER_SCHEDULE, HEADER_TRIGGER

    task_id = manual_task_id(target.name)
    options: dict[str, Any] = {}
    for option in ("queue", "exchange", "routing_key"):
        value = getattr(target, option)
        if value is not None:
            options[option] = value
    expires = message_expiry(target, now)
    if expires is not None:
        options["expires"] = expires
    app.send_task(
        target.task,
        args=target.args,
        kwargs=target.kwargs,
        task_id=task_id,
        headers={
            HEADER_SCHEDULE: target.name,
            HEADER_OVERLAP: target.overlap,
            HEADER_TRIGGER: "manual",
        },
        **options,
    )
    return task_id


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


@click.command("trigger")
@click.argument("name", shell_complete=complete_schedule_name)
@click.option("--wait", is_flag=True, help="Wait for the task to finish and print its result.")
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_WAIT_TIMEOUT,
    show_default=True,
    help="Seconds to wait with --wait.",
)
@click.option(
    "--ping-timeout",
    type=float,
    default=DEFAULT_PING_TIMEOUT,
    show_default=True,
    help="Seconds to wait for workers to answer.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
)
@NO_COLOR_OPTION
@click.pass_context
def trigger_command(
    ctx: click.Context,
    *,
    name: str,
    wait: bool,
    timeout: float,
    ping_timeout: float,
    output_format: str,
) -> int:
    """Run schedule NAME's task now, with its own queue, routing and expiry.

    Reads the schedule from the database, checks that a worker answers (exit 3 if none
    does), sends the task and prints its id; with --wait, prints its result too.
    """
    # The CLI maps exceptions to exit codes in one place (syncd.cli.run); imported here
    # because syncd.cli registers this command at its end.
    from syncd.cli import run

    return run(
        ctx,
        output_format,
        lambda: trigger(
            ctx,
            name,
            wait=wait,
            timeout=timeout,
            ping_timeout=ping_timeout,
            output_format=output_format,
        ),
    )


def trigger(
    ctx: click.Context | None,
    name: str,
    *,
    wait: bool,
    timeout: float,
    ping_timeout: float,
    output_format: str,
) -> int:
    """The body of `syncd trigger`; raises SyncdError subclasses for the CLI to map."""
    from celeryapp.app import make_app

    settings = settings_for(ctx)
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
            click.echo(f"warning: {warning}", err=True)
        task_id = send(app, target, now)
        report: dict[str, Any] = {
            "schedule": name,
            "task": target.task,
            "task_id": task_id,
            "queue": target.queue,
            "warnings": warnings,
        }
        if output_format == "text":
            click.echo(task_id)  # at once: a person sees the id while --wait waits
            sys.stdout.flush()
        if not wait:
            if output_format != "text":
                click.echo(render_report(report, output_format))
            return EXIT_OK
        state, result = wait_for(app, task_id, timeout)
        report.update(state=state, result=_jsonable(result))
        click.echo(render_report(report, output_format))
        if state != "SUCCESS":
            detail = f": {result}" if isinstance(result, BaseException) else ""
            raise TaskFailed(f"task {task_id} ended in state {state}{detail}")
        return EXIT_OK
    finally:
        app.close()

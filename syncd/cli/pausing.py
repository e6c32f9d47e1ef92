"""`syncd pause` and `syncd resume`: the command line of syncd.pauses."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from syncd.cli.group import Context, main, run, warn
from syncd.cli.options import FORMAT_OPTION, LOCK_TIMEOUT
from syncd.cli.terminal import complete_schedule_name

LOCK_TIMEOUT_OPTION = click.option(
    "--lock-timeout",
    type=LOCK_TIMEOUT,
    default=30.0,
    show_default=True,
    help="Seconds to wait for an apply that holds the lock.",
)


@main.command("pause")
@click.argument("names", nargs=-1, required=True, shell_complete=complete_schedule_name)
@click.option("--reason", required=True, help="Why (shown in list, status and the page).")
@click.option(
    "--until",
    help="Resume by itself at this RFC 3339 instant, or after this long (30m, 2h, 1d).",
)
@LOCK_TIMEOUT_OPTION
@FORMAT_OPTION
@click.pass_context
def pause_command(
    ctx: click.Context,
    *,
    names: tuple[str, ...],
    reason: str,
    until: str | None,
    lock_timeout: float,
    fmt: str,
) -> int:
    """Stop dispatching schedules NAMES now, without a commit.

    The beat stops within one tick and, with --until, resumes by itself then; due times
    the pause covers are missed runs, and on resume each schedule's `catchup` decides.
    A pause is not drift: `syncd apply` leaves it in place. `syncd resume` ends it.
    """
    from syncd.pauses import change, check_reason, parse_until, render
    from syncd.sync import actor

    obj: Context = ctx.obj

    def body() -> int:
        now = datetime.now(UTC).replace(microsecond=0)
        outcome = change(
            obj.settings,
            "pause",
            names,
            actor=actor(),
            reason=check_reason(reason),
            until=parse_until(until, now) if until else None,
            now=now,
            lock_timeout=lock_timeout,
            warn=warn,
        )
        click.echo(render(outcome, fmt))
        return 0

    return run(ctx, fmt, body)


@main.command("resume")
@click.argument("names", nargs=-1, required=True, shell_complete=complete_schedule_name)
@LOCK_TIMEOUT_OPTION
@FORMAT_OPTION
@click.pass_context
def resume_command(
    ctx: click.Context, *, names: tuple[str, ...], lock_timeout: float, fmt: str
) -> int:
    """End the pause of schedules NAMES; each one's `catchup` decides whether the newest
    due time it was paused over fires now."""
    from syncd.pauses import change, render
    from syncd.sync import actor

    obj: Context = ctx.obj

    def body() -> int:
        outcome = change(
            obj.settings, "resume", names, actor=actor(), lock_timeout=lock_timeout, warn=warn
        )
        click.echo(render(outcome, fmt))
        return 0

    return run(ctx, fmt, body)

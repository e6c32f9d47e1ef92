"""`syncd trigger NAME [--wait]`: the command line of syncd.trigger."""

from __future__ import annotations

import sys

import click

from syncd.cli.group import Context, main, run, warn
from syncd.cli.terminal import NO_COLOR_OPTION, complete_schedule_name
from syncd.defaults import TRIGGER_PING_TIMEOUT, TRIGGER_WAIT_TIMEOUT


def _out(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # at once: a person sees the task id while --wait waits


@main.command("trigger")
@click.argument("name", shell_complete=complete_schedule_name)
@click.option("--wait", is_flag=True, help="Wait for the task to finish and print its result.")
@click.option(
    "--timeout",
    type=float,
    default=TRIGGER_WAIT_TIMEOUT,
    show_default=True,
    help="Seconds to wait with --wait.",
)
@click.option(
    "--ping-timeout",
    type=float,
    default=TRIGGER_PING_TIMEOUT,
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
    from syncd.trigger import trigger

    obj: Context = ctx.obj
    return run(
        ctx,
        output_format,
        lambda: trigger(
            obj.settings,
            name,
            wait=wait,
            timeout=timeout,
            ping_timeout=ping_timeout,
            output_format=output_format,
            out=_out,
            err=warn,
        ),
    )

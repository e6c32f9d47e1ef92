"""`syncd backfill NAME --from T [--to T]`: the command line of syncd.backfill."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from syncd.cli.group import Context, main, run, warn
from syncd.cli.terminal import complete_schedule_name
from syncd.defaults import BACKFILL_MAX, BACKFILL_RATE
from syncd.errors import UsageError


def _out(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _instant(option: str, value: str) -> datetime:
    from syncd.rules import parse_time

    parsed = parse_time(value)
    if parsed is None:
        raise UsageError(
            f"{option} {value!r}: write an RFC 3339 time with an offset, like "
            "2026-03-08T00:00:00-05:00"
        )
    return parsed


@main.command("backfill")
@click.argument("name", shell_complete=complete_schedule_name)
@click.option("--from", "start", required=True, help="RFC 3339 start of the range (inclusive).")
@click.option("--to", "end", help="RFC 3339 end of the range (inclusive; default: now).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=BACKFILL_RATE,
    show_default=True,
    help="Messages per second (0: as fast as the broker takes them).",
)
@click.option(
    "--max",
    "limit",
    type=click.IntRange(min=1),
    default=BACKFILL_MAX,
    show_default=True,
    help="Refuse a range with more due times than this.",
)
@click.option(
    "--beyond-retention",
    is_flag=True,
    help="Allow a range older than the dispatch ledger keeps (runs may repeat).",
)
@click.option("--dry-run", is_flag=True, help="List what would be sent; send nothing.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
)
@click.pass_context
def backfill_command(
    ctx: click.Context,
    *,
    name: str,
    start: str,
    end: str | None,
    rate: float,
    limit: int,
    beyond_retention: bool,
    dry_run: bool,
    output_format: str,
) -> int:
    """Send the runs schedule NAME was due for from --from to --to, once each.

    Every due time is claimed in the dispatch ledger like the beat claims it and sent under
    the beat's task id (NAME@DUE); one already dispatched is skipped, so running a backfill
    twice, or beside the beat, never repeats a run.
    """
    from syncd.backfill import run_backfill
    from syncd.sync import actor

    obj: Context = ctx.obj

    def body() -> int:
        return run_backfill(
            obj.settings,
            name,
            _instant("--from", start),
            _instant("--to", end) if end else None,
            rate=rate,
            limit=limit,
            beyond_retention=beyond_retention,
            dry_run=dry_run,
            actor=actor(),
            out=_out,
            err=warn,
            fmt=output_format,
        )

    return run(ctx, output_format, body)

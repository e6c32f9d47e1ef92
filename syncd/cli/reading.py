"""The commands that only read: diff, next, export, status, schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from celeryapp.settings import MAX_HEARTBEAT_AGE
from syncd.cli.group import Context, emit, main, run, step_summary, warn
from syncd.cli.options import FORMAT_OPTION, PATHS_ARGUMENT, SCOPE_OPTION, paths_or_default
from syncd.cli.terminal import (
    COMPACT_OPTION,
    NO_COLOR_OPTION,
    complete_schedule_name,
    text_options,
)
from syncd.errors import EXIT_OK, EXIT_SERVICE, EXIT_UNHEALTHY, UsageError

if TYPE_CHECKING:
    from syncd.plan import Row


@main.command()
@click.option("--base", required=True, help="Git ref to compare against (e.g. origin/main).")
@PATHS_ARGUMENT
@FORMAT_OPTION
@NO_COLOR_OPTION
@COMPACT_OPTION
@SCOPE_OPTION
@click.pass_context
def diff(
    ctx: click.Context, base: str, paths: tuple[str, ...], fmt: str, scope: str | None = None
) -> int:
    """The plan between the schedules at a git ref and the working tree; no database."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.gitdiff import diff as git_diff
        from syncd.render import render_plan
        from syncd.scopes import check_option

        result, warnings = git_diff(
            base,
            paths_or_default(paths),
            default_timezone=obj.timezone,
            limits=obj.limits,
            scope=check_option(scope),
        )
        for warning in warnings:
            warn(f"warning: {warning}")
        emit(render_plan(result, fmt, **text_options(fmt)))
        if fmt == "github":
            step_summary(render_plan(result, "markdown"))
        return EXIT_OK

    return run(ctx, fmt, body)


def _parse_after(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    from syncd.rules import parse_time

    parsed = parse_time(value)
    if parsed is None:
        raise UsageError(
            f"--after {value!r}: write an RFC 3339 time with an offset, like "
            "2026-03-08T00:00:00-05:00"
        )
    return parsed


@main.command("next")
@click.argument("name", required=False, shell_complete=complete_schedule_name)
@PATHS_ARGUMENT
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1, max=10_000),
    default=5,
    show_default=True,
    help="How many fire times.",
)
@click.option("--after", help="RFC 3339 instant to start after (default: now).")
@click.option("--from-db", is_flag=True, help="Read the schedule from the table, not the YAML.")
@click.option(
    "--load",
    "show_load",
    is_flag=True,
    help="Instead of one schedule: runs per minute over the next 24 h and per hour over "
    "the next 7 days, of every schedule (syncd next --load [PATHS]).",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def next_command(
    ctx: click.Context,
    name: str | None,
    paths: tuple[str, ...],
    count: int,
    after: str | None,
    from_db: bool,
    show_load: bool,
    fmt: str,
) -> int:
    """The next N fire times of a schedule, in its timezone, computed by the beat's code."""
    obj: Context = ctx.obj
    if show_load:
        # No NAME with --load: the first argument, if any, is a path.
        given = (name, *paths) if name else paths
        return run(ctx, fmt, lambda: _show_load(obj, given, after, from_db, fmt))
    if name is None:
        return run(ctx, fmt, _name_missing)

    def body() -> int:
        from syncd.crontext import describe
        from syncd.nextrun import find_schedule, fire_times_for, render_next

        start = _parse_after(after)
        schedule, stored = find_schedule(
            name,
            paths_or_default(paths),
            from_db=from_db,
            database_url=obj.database_url,
            default_timezone=obj.timezone,
            limits=obj.limits,
        )
        tz_name, times = fire_times_for(
            schedule, start, count, default_timezone=obj.timezone, anchor=start, stored=stored
        )
        words = describe(schedule.cron) if schedule.cron else None
        emit(render_next(schedule.name, tz_name, times, fmt, words))
        return EXIT_OK

    return run(ctx, fmt, body)


def _name_missing() -> int:
    raise UsageError("syncd next NAME: name a schedule (or pass --load for every schedule)")


def _show_load(
    obj: Context, paths: Sequence[str], after: str | None, from_db: bool, fmt: str
) -> int:
    from syncd.load import load, render_load
    from syncd.nextrun import load_entries

    start = _parse_after(after)
    entries = load_entries(
        paths_or_default(paths),
        from_db=from_db,
        database_url=obj.database_url,
        default_timezone=obj.timezone,
        anchor=start,
        limits=obj.limits,
    )
    emit(render_load(load(entries, start), fmt))
    return EXIT_OK


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write one file per source file into DIR (a scope's into DIR/SCOPE/) instead of "
    "one document to stdout.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="NAME",
    help="Only schedules of this scope (repeatable; '' is the default scope; "
    "docs/sync.md#scopes). To stdout, the rows must be of one scope.",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def export(ctx: click.Context, out_dir: str | None, scopes: tuple[str, ...], fmt: str) -> int:
    """Write the database's schedules as YAML that re-applies with no changes.

    A file holds one scope (`scope: NAME`); with --out a scope's files go to DIR/NAME/.
    --format json prints the same file as JSON (also valid YAML); markdown fences the YAML;
    github is refused (exit 64): an export has no lines in files to annotate.
    """
    obj: Context = ctx.obj

    def body() -> int:
        from syncd import export as exporting
        from syncd.store import connect, require_database, snapshot

        if fmt not in exporting.FORMATS:
            raise UsageError(
                f"export --format {fmt}: an export annotates no file lines; use text (YAML), "
                "json or markdown"
            )
        from syncd.scopes import check_filter, describe

        wanted = {check_filter(s) for s in scopes}
        require_database(obj.database_url)
        with connect(obj.database_url) as conn:
            rows = snapshot(conn)
        if wanted:
            rows = [r for r in rows if exporting.scope_of(r) in wanted]
        if not out_dir:
            held = exporting.scopes(rows)
            if len(held) > 1:
                raise UsageError(
                    "export: the rows are in "
                    + ", ".join(describe(s) for s in held)
                    + "; one document holds one scope: pass --out DIR (one folder per "
                    "scope) or --scope NAME (--scope '' for the default scope)"
                )
            click.echo(exporting.render(rows, fmt, held[0] if held else None), nl=False)
            return EXIT_OK
        _report_written(_write_export(rows, out_dir), fmt)
        return EXIT_OK

    return run(ctx, fmt, body)


def _write_export(rows: Sequence[Row], out_dir: str) -> list[str]:
    """One YAML file per source file into `out_dir` (a scope's into `out_dir/SCOPE/`); the
    paths written."""
    from pathlib import Path

    from syncd import export as exporting

    folder = Path(out_dir)
    written = []

    def header(scope: str | None) -> str:
        below = folder if scope is None else folder / scope
        below.mkdir(parents=True, exist_ok=True)
        return exporting.modeline(below)

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in exporting.export(rows, header).items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(str(folder / name))
    return written


def _report_written(written: list[str], fmt: str) -> None:
    if fmt == "json":
        emit(json.dumps({"written": written}, indent=2))
    elif fmt == "markdown":
        emit("\n".join(f"- wrote `{path}`" for path in written))
    else:
        for path in written:
            warn(f"wrote {path}")


@main.command()
@click.option(
    "--max-heartbeat-age",
    type=click.FloatRange(min=0, max=86400),
    default=MAX_HEARTBEAT_AGE,
    show_default=True,
    help="Seconds after which the leading beat's heartbeat counts as stale.",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def status(ctx: click.Context, max_heartbeat_age: float, fmt: str) -> int:
    """Revision, last apply, drift, beat leader and heartbeat, workers online. A health
    check: exit 0 healthy, 6 when no beat leads, its heartbeat is stale or drift exists,
    3 when a service cannot be reached."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.status import gather, render

        report = gather(obj.settings, max_heartbeat_age=max_heartbeat_age)
        emit(render(report, fmt))
        health = report["health"]
        if health["unreachable"]:
            return EXIT_SERVICE
        return EXIT_OK if health["healthy"] else EXIT_UNHEALTHY

    return run(ctx, fmt, body)


@main.command("schema")
@click.option("--id", "show_id", is_flag=True, help="Print only the schema's $id.")
@click.option(
    "--path",
    "show_path",
    is_flag=True,
    help="Print the installed schema file's path (for editor settings; docs/editors.md).",
)
def schema_command(show_id: bool, show_path: bool) -> int:
    """Print the JSON Schema of a schedules file, as shipped with this installed version."""
    from syncd.schema import schema, schema_bytes, schema_path

    if show_id:
        click.echo(schema()["$id"])
    elif show_path:
        click.echo(schema_path())
    else:
        click.echo(schema_bytes().decode("utf-8"), nl=False)
    return EXIT_OK

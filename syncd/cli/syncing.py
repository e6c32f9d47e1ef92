"""The commands that sync: validate, plan, apply, watch, migrate."""

from __future__ import annotations

import click

from celeryapp.redact import redact_url
from syncd.cli.group import Context, emit, main, run, step_summary, warn
from syncd.cli.options import (
    ADOPT_OPTION,
    FORMAT_OPTION,
    LOCK_TIMEOUT,
    NO_PRUNE_OPTION,
    PATHS_ARGUMENT,
    SCOPE_OPTION,
    guard_options,
    paths_or_default,
    sync_options,
)
from syncd.cli.terminal import COMPACT_OPTION, NO_COLOR_OPTION, text_options
from syncd.errors import EXIT_CHANGES_PENDING, EXIT_OK, InvalidSchedules, UsageError


@main.command()
@PATHS_ARGUMENT
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> int:
    """Load and validate schedule files; no database needed."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.errors import plural
        from syncd.render import render_diagnostics, valid_github
        from syncd.validate import load

        schedules, diagnostics = load(
            paths_or_default(paths),
            registry=obj.registry(),
            default_timezone=obj.timezone,
            limits=obj.limits,
        )
        if diagnostics:
            raise InvalidSchedules(diagnostics)
        if fmt in ("json", "markdown"):
            emit(render_diagnostics([], fmt))
        elif fmt == "github":
            emit(valid_github(len(schedules)))
        else:
            emit(f"{plural(len(schedules), 'schedule')} valid.")
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@PATHS_ARGUMENT
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="Save the plan (json, with the revision it was made against) for `syncd apply FILE`.",
)
@NO_PRUNE_OPTION
@ADOPT_OPTION
@SCOPE_OPTION
@COMPACT_OPTION
@guard_options
@click.pass_context
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    detailed_exitcode: bool,
    out_file: str | None,
    no_prune: bool,
    adopt: bool,
    allow_empty: bool,
    max_delete: int | None,
    deny_windows: tuple[tuple[str, str], ...] = (),
    scope: str | None = None,
) -> int:
    """Validate, then diff against the database; changes nothing."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd import savedplan, sync
        from syncd.render import render_plan

        options = sync_options(
            obj,
            paths,
            prune=not no_prune,
            adopt=adopt,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=deny_windows,
            scope=scope,
        )
        result = sync.plan(obj.database_url, options)
        if out_file:
            savedplan.write(
                out_file,
                result,
                result.revision,
                paths_or_default(paths),
                prune=not no_prune,
                adopt=adopt,
                scope=options.scope,
            )
        _note_no_database(obj, fmt)
        emit(render_plan(result, fmt, revision=result.revision, **text_options(fmt)))
        if fmt == "github":
            step_summary(render_plan(result, "markdown", revision=result.revision))
        if detailed_exitcode and not result.empty:
            return EXIT_CHANGES_PENDING
        return EXIT_OK

    return run(ctx, fmt, body)


def _note_no_database(obj: Context, fmt: str) -> None:
    from syncd.store import database_exists

    if fmt == "text" and not database_exists(obj.database_url):
        warn(
            f"note: no database at {redact_url(obj.database_url)} yet; planned against an "
            "empty table (nothing was created)"
        )


# Over 60 lines only by its signature: one parameter a line for each click option.
@main.command()
@PATHS_ARGUMENT
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.option("--dry-run", is_flag=True, help="Plan only (same as `syncd plan`).")
@NO_PRUNE_OPTION
@ADOPT_OPTION
@SCOPE_OPTION
@click.option(
    "--lock-timeout",
    type=LOCK_TIMEOUT,
    default=30.0,
    show_default=True,
    help="Seconds to wait for another apply to finish before exiting 4.",
)
@COMPACT_OPTION
@click.option(
    "--force-window",
    is_flag=True,
    help="Apply even inside a --deny-window (a person deciding; serve never does).",
)
@guard_options
@click.pass_context
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    dry_run: bool,
    no_prune: bool,
    adopt: bool,
    lock_timeout: float,
    allow_empty: bool,
    max_delete: int | None,
    force_window: bool = False,
    deny_windows: tuple[tuple[str, str], ...] = (),
    scope: str | None = None,
) -> int:
    """Validate, diff and apply in one transaction; record a revision; signal the beat.

    PATHS may instead be one plan file saved by `syncd plan --out FILE`: it is applied
    exactly, or refused (exit 4) if the database moved since.
    """
    obj: Context = ctx.obj
    if dry_run:
        return ctx.invoke(  # type: ignore[no-any-return]
            plan,
            paths=paths,
            fmt=fmt,
            detailed_exitcode=False,
            out_file=None,
            no_prune=no_prune,
            adopt=adopt,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=() if force_window else deny_windows,
            scope=scope,
        )

    def body() -> int:
        from syncd import savedplan, sync
        from syncd.cli.terminal import progress
        from syncd.render import render_plan

        saved = savedplan.load(paths[0]) if savedplan.is_saved_plan(paths) else None
        if saved is not None and scope is not None and scope != saved.scope:
            raise UsageError(
                f"--scope {scope}: the saved plan {paths[0]} was made with "
                f"{'--scope ' + saved.scope if saved.scope else 'no --scope'}; it is applied "
                "as it was made (leave --scope out)"
            )
        options = sync_options(
            obj,
            saved.paths if saved else paths,
            prune=saved.prune if saved else not no_prune,
            adopt=saved.adopt if saved else adopt,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=deny_windows,
            force_window=force_window,
            scope=saved.scope if saved else scope,
        )
        with progress(fmt) as shown:
            result, revision = sync.apply(
                obj.database_url,
                options,
                lock_timeout=lock_timeout,
                expected=saved,
                progress=shown,
            )
        emit(render_plan(result, fmt, applied=True, revision=revision, **text_options(fmt)))
        if fmt == "github":
            step_summary(render_plan(result, "markdown", applied=True, revision=revision))
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> int:
    """Upgrade the database to the current schema (Alembic)."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.store import migrate as do_migrate

        do_migrate(obj.database_url)
        click.echo(f"Database at {redact_url(obj.database_url)} is at the current schema.")
        return EXIT_OK

    return run(ctx, "text", body)


@main.command()
@PATHS_ARGUMENT
@FORMAT_OPTION
@NO_COLOR_OPTION
@NO_PRUNE_OPTION
@click.option("--adopt", is_flag=True, help="Take over rows made by other means.")
@SCOPE_OPTION
@click.option("--lock-timeout", type=LOCK_TIMEOUT, default=30.0, show_default=True)
@click.option(
    "--max-applies",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many applies (for scripts and tests).",
)
@click.option(
    "--debounce",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Milliseconds to wait for more changes before applying.",
)
@guard_options
@click.pass_context
def watch(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    no_prune: bool,
    adopt: bool,
    lock_timeout: float,
    max_applies: int | None,
    debounce: int,
    allow_empty: bool,
    max_delete: int | None,
    deny_windows: tuple[tuple[str, str], ...] = (),
    scope: str | None = None,
) -> int:
    """Apply, then re-apply on every change; an invalid edit leaves the last good state."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.watch import FORMATS as WATCH_FORMATS
        from syncd.watch import watch as run_watch

        if fmt not in WATCH_FORMATS:
            raise UsageError(
                f"watch --format {fmt}: watch prints one line per apply, for people (text) "
                "or programs (json); markdown and github are for one-shot reports "
                "(`syncd plan` or `syncd apply`)"
            )
        run_watch(
            obj.database_url,
            sync_options(
                obj,
                paths,
                prune=not no_prune,
                adopt=adopt,
                allow_empty=allow_empty,
                max_delete=max_delete,
                deny_windows=deny_windows,
                scope=scope,
            ),
            lock_timeout=lock_timeout,
            fmt=fmt,
            emit=emit,
            max_applies=max_applies,
            debounce_ms=debounce,
        )
        return EXIT_OK

    return run(ctx, fmt, body)

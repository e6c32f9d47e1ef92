"""The commands of the revision history: history, rollback."""

from __future__ import annotations

import click

from syncd.cli.group import Context, emit, main, run, step_summary, warn
from syncd.cli.options import FORMAT_OPTION, LOCK_TIMEOUT
from syncd.cli.terminal import COMPACT_OPTION, NO_COLOR_OPTION, color_enabled, text_options
from syncd.errors import EXIT_OK, UnknownRevision


@main.command()
@click.argument("rev", required=False, type=click.IntRange(min=1))
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1, max=100_000),
    default=20,
    show_default=True,
    help="How many revisions, newest first (without REV).",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def history(ctx: click.Context, rev: int | None, count: int, fmt: str) -> int:
    """The latest revisions (number, time, kind, commit, actor, counts), newest first; with
    REV, that revision and its field changes."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd import history as revisions
        from syncd.store import connect, current_revision, database_exists, revision_row
        from syncd.store import revision_rows as latest

        color = fmt == "text" and color_enabled()
        if not database_exists(obj.database_url):
            if rev is not None:
                raise UnknownRevision(f"no revision {rev}: nothing has been applied here yet")
            emit(revisions.render_list([], fmt))
            return EXIT_OK
        with connect(obj.database_url) as conn:
            if rev is None:
                emit(revisions.render_list(latest(conn, count), fmt, color=color))
                return EXIT_OK
            row = revision_row(conn, rev)
            current = current_revision(conn)
        if row is None:
            raise UnknownRevision(
                f"no revision {rev} (the current one is "
                f"{current if current is not None else 'none'}); `syncd history` lists them"
            )
        emit(revisions.render_one(row, fmt, color=color))
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@click.option(
    "--to",
    "target",
    required=True,
    type=click.IntRange(min=1),
    metavar="REV",
    help="The revision whose schedules to put back (`syncd history` lists them).",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.option(
    "--lock-timeout",
    type=LOCK_TIMEOUT,
    default=30.0,
    show_default=True,
    help="Seconds to wait for another apply to finish before exiting 4.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Allow a rollback that deletes every managed schedule (refused with exit 5).",
)
@click.option(
    "--max-delete",
    type=click.IntRange(min=0),
    default=None,
    help="Refuse (exit 5) a rollback that deletes more than N schedules.",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@COMPACT_OPTION
@click.pass_context
def rollback(
    ctx: click.Context,
    target: int,
    dry_run: bool,
    lock_timeout: float,
    allow_empty: bool,
    max_delete: int | None,
    fmt: str,
) -> int:
    """Put the managed schedules back as they were right after revision REV, recorded as
    a new revision of kind rollback (for an emergency: revert in git too; until then
    `syncd plan` shows the drift from git). Runtime pauses stay as they are."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd import rollbackapply
        from syncd.cli.options import sync_options
        from syncd.cli.terminal import progress
        from syncd.history import REVERT_IN_GIT, render_rollback

        # No paths: the schedules come from the history. Only the person's guards apply.
        options = sync_options(
            obj, (), prune=True, adopt=False, allow_empty=allow_empty, max_delete=max_delete
        )
        if dry_run:
            result, revision = rollbackapply.rollback_plan(obj.database_url, options, target), None
        else:
            with progress(fmt) as shown:
                result, revision = rollbackapply.rollback(
                    obj.database_url, options, target, lock_timeout=lock_timeout, progress=shown
                )
        applied = not dry_run
        emit(
            render_rollback(
                result, fmt, target=target, revision=revision, applied=applied, **text_options(fmt)
            )
        )
        if fmt == "github":
            step_summary(
                render_rollback(
                    result, "markdown", target=target, revision=revision, applied=applied
                )
            )
        if fmt == "text" and revision is not None:
            warn(REVERT_IN_GIT)
        return EXIT_OK

    return run(ctx, fmt, body)

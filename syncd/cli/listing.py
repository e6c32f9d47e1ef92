"""`syncd list` and `syncd show NAME`: the command line of syncd.overview."""

from __future__ import annotations

import click

from syncd.cli.group import Context, emit, main, run, warn
from syncd.cli.options import FORMAT_OPTION
from syncd.cli.terminal import color_enabled, complete_schedule_name
from syncd.defaults import LIST_STATES


@main.command("list")
@click.option(
    "--state",
    "states",
    type=click.Choice(LIST_STATES),
    multiple=True,
    help="Only schedules in this state (repeatable).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="NAME",
    help="Only schedules of this scope (repeatable; '' is the default scope; docs/sync.md#scopes).",
)
@FORMAT_OPTION
@click.pass_context
def list_command(
    ctx: click.Context, *, states: tuple[str, ...], fmt: str, scopes: tuple[str, ...] = ()
) -> int:
    """Every schedule with its timing, state, next and last due time, the last run's
    outcome (from the result backend, by the NAME@DUE task id), its run count and the
    failures in a row. `late`: a due time passed and nothing was dispatched."""
    from syncd.listrender import render_list
    from syncd.overview import views

    obj: Context = ctx.obj

    def body() -> int:
        from syncd.scopes import check_filter

        wanted = {check_filter(s) for s in scopes}
        shown = views(obj.settings, warn)
        if wanted:
            shown = [v for v in shown if v.scope in wanted]
        if states:
            shown = [v for v in shown if v.state in states]
        emit(render_list(shown, fmt, color=fmt == "text" and color_enabled()))
        return 0

    return run(ctx, fmt, body)


@main.command("show")
@click.argument("name", shell_complete=complete_schedule_name)
@click.option(
    "-n", "runs", type=click.IntRange(1, 1000), default=20, show_default=True, help="Runs shown."
)
@FORMAT_OPTION
@click.pass_context
def show_command(ctx: click.Context, *, name: str, runs: int, fmt: str) -> int:
    """One schedule as `list` shows it, with its next fire times, its last runs (outcome,
    time from the broker to the result, worker) and the revisions that changed it."""
    from syncd.listrender import render_show
    from syncd.overview import detail

    obj: Context = ctx.obj

    def body() -> int:
        shown, revisions = detail(obj.settings, name, warn, runs=runs)
        emit(render_show(shown, revisions, shown.next_times, fmt))
        return 0

    return run(ctx, fmt, body)

"""Options shared by several commands, and what they become: sync.Options, the signal."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from syncd.cli.group import Context, warn
from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.sync import Options

DEFAULT_PATHS = ("schedules",)


class Seconds(click.FloatRange):
    """A number of seconds in a range; NaN is refused (click's range lets it through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


# Finite and at most a day: PostgreSQL's lock_timeout is a 32-bit count of milliseconds.
LOCK_TIMEOUT = Seconds(min=0, max=86_400)
FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
    help="Output for people (text), programs (json), pull requests (markdown) or "
    "GitHub workflow annotations (github).",
)
PATHS_ARGUMENT = click.argument("paths", nargs=-1, type=click.Path())
NO_PRUNE_OPTION = click.option(
    "--no-prune", is_flag=True, help="Keep managed rows that are not in the files."
)
ADOPT_OPTION = click.option(
    "--adopt", is_flag=True, help="Take over rows with the same name made by other means."
)
SCOPE_OPTION = click.option(
    "--scope",
    default=None,
    metavar="NAME",
    help="The scope (team) this run owns: the scope of every file that names none; only "
    "its rows are changed or pruned (docs/sync.md#scopes). Default: the files' own.",
)


def paths_or_default(paths: Sequence[str]) -> list[str]:
    return list(paths) or list(DEFAULT_PATHS)


def guard_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--allow-empty, --max-delete and --deny-window (DESIGN §8), shared by plan, apply,
    watch and serve."""
    command = click.option(
        "--deny-window",
        "deny_windows",
        type=(str, str),
        multiple=True,
        metavar="CRON DURATION",
        help="Refuse (exit 5) automatic syncs from each time CRON fires until DURATION later, "
        "in the app's time zone (repeatable); `syncd apply --force-window` applies anyway.",
    )(command)
    command = click.option(
        "--max-delete",
        type=click.IntRange(min=0),
        default=None,
        help="Refuse (exit 5) a plan that deletes more than N schedules.",
    )(command)
    return click.option(
        "--allow-empty",
        is_flag=True,
        help="Allow a plan that deletes every managed schedule (refused with exit 5 "
        "otherwise: it is what a wrong path looks like).",
    )(command)


def sync_options(
    obj: Context,
    paths: Sequence[str],
    *,
    prune: bool,
    adopt: bool,
    allow_empty: bool = False,
    max_delete: int | None = None,
    deny_windows: Sequence[tuple[str, str]] = (),
    force_window: bool = False,
    scope: str | None = None,
) -> Options:
    """The sync.Options of plan, apply, watch and serve, from their command lines."""
    from syncd.guards import Guards
    from syncd.scopes import check_option
    from syncd.sync import Options, Signal
    from syncd.windows import DenyWindow, WindowError

    try:
        windows = tuple(DenyWindow.parse(c, d, obj.timezone) for c, d in deny_windows)
    except WindowError as exc:
        raise UsageError(str(exc)) from None
    return Options(
        paths=paths_or_default(paths),
        registry=obj.registry(),
        default_timezone=obj.timezone,
        limits=obj.limits,
        prune=prune,
        adopt=adopt,
        guards=Guards(
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=windows,
            force_window=force_window,
        ),
        signal=Signal(obj.redis_url, obj.redis_prefix, warn=warn),
        scope=check_option(scope),
    )

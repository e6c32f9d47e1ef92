"""The `syncd` group: global options, the one Settings of an invocation, and `run`, the one
place that maps exceptions to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from celeryapp.redact import install_log_redaction, redact_url
from celeryapp.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    SettingsError,
    check_database_url,
)
from syncd.cli.terminal import NO_COLOR_OPTION, color_enabled, text_options
from syncd.errors import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_USAGE,
    InvalidSchedules,
    Refused,
    SyncdError,
)

if TYPE_CHECKING:
    from syncd.loader import SizeLimits


@dataclass
class Context:
    """What every command gets: the global options, and the Settings built from them and the
    environment once, at start-up (status, trigger and serve read them; nothing rebuilds)."""

    database_url: str  # as given: messages name it so
    redis_url: str | None
    app: str | None
    settings: Settings
    verbose: bool
    limits: SizeLimits  # SYNCD_MAX_*_BYTES (the loader itself is imported by commands only)

    @property
    def redis_prefix(self) -> str:
        return self.settings.redis_prefix

    @property
    def timezone(self) -> str:
        return self.settings.timezone

    def registry(self) -> frozenset[str] | None:
        if not self.app:
            return None
        from syncd.validate import registry_from_app

        return registry_from_app(self.app)


def emit(text: str) -> None:
    if text:
        click.echo(text)


def warn(text: str) -> None:
    click.echo(text, err=True)


def step_summary(markdown: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")


def report_refused(exc: Refused, fmt: str, *, applying: bool) -> None:
    from syncd.render import render_plan

    emit(render_plan(exc.plan, fmt, applied=applying, refusals=exc.refusals, **text_options(fmt)))
    if fmt == "github":
        step_summary(render_plan(exc.plan, "markdown", applied=applying, refusals=exc.refusals))
    if fmt == "text":
        warn(f"error: {exc.message}")


def report_invalid(exc: InvalidSchedules, fmt: str) -> None:
    from syncd.render import diagnostics_markdown, render_diagnostics

    out = render_diagnostics(exc.diagnostics, fmt, color=fmt == "text" and color_enabled(err=True))
    if fmt == "github":
        step_summary(diagnostics_markdown(exc.diagnostics))
    # Positioned errors go to stdout in machine formats (a program parses them), else stderr.
    click.echo(out, err=fmt == "text")


class SyncdGroup(click.Group):
    """Maps click's usage errors to 64, so exit code 2 always means "changes pending"."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            warn("Aborted.")
            sys.exit(130)
        except click.ClickException as exc:  # UsageError is one
            exc.show()
            sys.exit(EXIT_USAGE)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _traceback(obj: Context) -> None:
    """With -v, the traceback of the exception being handled (the exit code stays)."""
    if obj.verbose:
        import traceback

        warn(redact_url(traceback.format_exc()).rstrip())


def _unexpected(obj: Context, exc: Exception) -> int:
    """Any other failure: a database error names the database; exit 3 either way."""
    from syncd.store import DatabaseError

    if isinstance(exc, DatabaseError):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        warn(
            f"error: database error at {redact_url(obj.database_url)}: {redact_url(reason)} "
            "(run with -v for the traceback)"
        )
        return EXIT_SERVICE
    warn(f"error: {type(exc).__name__}: {redact_url(str(exc))} (run with -v for the traceback)")
    return EXIT_SERVICE


def run(ctx: click.Context, fmt: str, body: Callable[[], int | None]) -> int:
    """Run a command body; map every syncd exception to its exit code, in one place."""
    obj: Context = ctx.obj
    try:
        return body() or EXIT_OK
    except InvalidSchedules as exc:
        report_invalid(exc, fmt)
        return exc.exit_code
    except Refused as exc:
        report_refused(exc, fmt, applying=ctx.info_name == "apply")
        return exc.exit_code
    except SyncdError as exc:
        _traceback(obj)
        warn(f"error: {redact_url(exc.message)}")
        return exc.exit_code
    except SettingsError as exc:  # a setting a command assembles from its own options
        _traceback(obj)
        warn(f"error: {redact_url(str(exc))}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the one place any failure gets its exit code
        _traceback(obj)
        return _unexpected(obj, exc)


@click.group(cls=SyncdGroup, epilog=EXIT_CODES_HELP)
@click.option(
    "--database-url",
    envvar="SYNCD_DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    help="Database holding the schedule table [SYNCD_DATABASE_URL].",
)
@click.option(
    "--redis-url",
    envvar="SYNCD_REDIS_URL",
    default=None,
    help="Redis for the change signal; none: the database revision alone [SYNCD_REDIS_URL].",
)
@click.option(
    "--app",
    envvar="SYNCD_CELERY_APP",
    default=None,
    help="Celery app (module or module:attr) whose registered task names are "
    "checked; none: names are not checked [SYNCD_CELERY_APP].",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Add the traceback of a failure (the exit code stays)."
)
@NO_COLOR_OPTION
@click.version_option(package_name="syncd")
@click.pass_context
def main(
    ctx: click.Context, database_url: str, redis_url: str | None, app: str | None, verbose: bool
) -> None:
    """GitOps for Celery beat: validate, plan and apply YAML schedules."""
    install_log_redaction()
    ctx.obj = Context(
        database_url=database_url,
        redis_url=redis_url or None,
        app=app or None,
        settings=_settings(ctx, database_url, redis_url or None),
        verbose=verbose,
        limits=_size_limits(os.environ),
    )


def _settings(ctx: click.Context, database_url: str, redis_url: str | None) -> Settings:
    """Every setting checked once, at start-up: exit 64 naming the variable (or option)."""
    from_line = ctx.get_parameter_source("database_url") == click.core.ParameterSource.COMMANDLINE
    env = {**os.environ, "SYNCD_DATABASE_URL": database_url}
    if redis_url:
        env["SYNCD_REDIS_URL"] = redis_url
    try:
        check_database_url(database_url, "--database-url" if from_line else "SYNCD_DATABASE_URL")
        return Settings.from_env(env)
    except SettingsError as exc:
        warn(f"error: {exc}")
        ctx.exit(EXIT_USAGE)


def _size_limits(env: Mapping[str, str]) -> SizeLimits:
    """SYNCD_MAX_DOCUMENT_BYTES and SYNCD_MAX_ARGS_BYTES (positive integers) as SizeLimits."""
    from syncd.loader import SizeLimits

    values = {}
    for field, variable in (
        ("document_bytes", "SYNCD_MAX_DOCUMENT_BYTES"),
        ("args_bytes", "SYNCD_MAX_ARGS_BYTES"),
    ):
        raw = env.get(variable) or ""
        if not raw:
            continue
        if not raw.isdecimal() or int(raw) < 1:
            raise click.UsageError(f"{variable}={raw!r}: give a positive number of bytes")
        values[field] = int(raw)
    return SizeLimits(**values)

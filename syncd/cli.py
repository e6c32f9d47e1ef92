"""The `syncd` command line (click). One place maps exceptions to exit codes: `main`."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from celeryapp.redact import install_log_redaction, redact_url
from celeryapp.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    SettingsError,
    check_database_url,
)
from syncd.errors import (
    EXIT_CHANGES_PENDING,
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_USAGE,
    InvalidSchedules,
    Refused,
    SyncdError,
    UnknownSchedule,
    UsageError,
)
from syncd.terminal import (
    COMPACT_OPTION,
    NO_COLOR_OPTION,
    color_enabled,
    complete_schedule_name,
    text_options,
)

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


@dataclass
class Context:
    database_url: str
    redis_url: str | None
    app: str | None
    redis_prefix: str
    timezone: str
    verbose: bool
    limits: Any = None  # syncd.loader.SizeLimits (the loader is imported by commands only)

    def registry(self) -> frozenset[str] | None:
        if not self.app:
            return None
        from syncd.validate import registry_from_app

        return registry_from_app(self.app)


def _paths(paths: Sequence[str]) -> list[str]:
    return list(paths) or list(DEFAULT_PATHS)


def emit(text: str) -> None:
    if text:
        click.echo(text)


def _step_summary(markdown: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")


def report_refused(exc: Refused, fmt: str, *, applying: bool) -> None:
    from syncd.render import render_plan

    emit(render_plan(exc.plan, fmt, applied=applying, refusals=exc.refusals, **text_options(fmt)))
    if fmt == "github":
        _step_summary(render_plan(exc.plan, "markdown", applied=applying, refusals=exc.refusals))
    if fmt == "text":
        click.echo(f"error: {exc.message}", err=True)


def report_invalid(exc: InvalidSchedules, fmt: str) -> None:
    from syncd.render import diagnostics_markdown, render_diagnostics

    out = render_diagnostics(exc.diagnostics, fmt, color=fmt == "text" and color_enabled(err=True))
    if fmt == "github":
        _step_summary(diagnostics_markdown(exc.diagnostics))
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
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _traceback(obj: Context) -> None:
    """With -v, the traceback of the exception being handled (the exit code stays)."""
    if obj.verbose:
        import traceback

        click.echo(redact_url(traceback.format_exc()).rstrip(), err=True)


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
        click.echo(f"error: {redact_url(exc.message)}", err=True)
        return exc.exit_code
    except SettingsError as exc:  # a setting a command assembles from its own options
        _traceback(obj)
        click.echo(f"error: {redact_url(str(exc))}", err=True)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the one place any failure gets its exit code
        _traceback(obj)
        from syncd.store import DatabaseError

        if isinstance(exc, DatabaseError):
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            click.echo(
                f"error: database error at {redact_url(obj.database_url)}: {redact_url(reason)} "
                "(run with -v for the traceback)",
                err=True,
            )
            return EXIT_SERVICE
        click.echo(
            f"error: {type(exc).__name__}: {redact_url(str(exc))} (run with -v for the traceback)",
            err=True,
        )
        return EXIT_SERVICE


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
    settings = _settings(ctx, database_url)
    ctx.obj = Context(
        database_url=database_url,
        redis_url=redis_url or None,
        app=app or None,
        redis_prefix=settings.redis_prefix,
        timezone=settings.timezone,
        verbose=verbose,
        limits=_size_limits(os.environ),
    )


def _settings(ctx: click.Context, database_url: str) -> Settings:
    """Every setting checked once, at start-up: exit 64 naming the variable (or option)."""
    from_line = ctx.get_parameter_source("database_url") == click.core.ParameterSource.COMMANDLINE
    try:
        check_database_url(database_url, "--database-url" if from_line else "SYNCD_DATABASE_URL")
        return Settings.from_env({**os.environ, "SYNCD_DATABASE_URL": database_url})
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_USAGE)


def _size_limits(env: Mapping[str, str]) -> Any:
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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
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
            _paths(paths),
            registry=obj.registry(),
            default_timezone=obj.timezone,
            limits=obj.limits,
        )
        if diagnostics:
            raise InvalidSchedules(diagnostics)
        if fmt == "json":
            emit(render_diagnostics([], "json"))
        elif fmt == "markdown":
            emit(render_diagnostics([], "markdown"))
        elif fmt == "github":
            emit(valid_github(len(schedules)))
        else:
            emit(f"{plural(len(schedules), 'schedule')} valid.")
        return EXIT_OK

    return run(ctx, fmt, body)


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


def _options(
    obj: Context,
    paths: Sequence[str],
    *,
    prune: bool,
    adopt: bool,
    allow_empty: bool = False,
    max_delete: int | None = None,
    deny_windows: Sequence[tuple[str, str]] = (),
    force_window: bool = False,
) -> Any:
    from syncd.guards import Guards
    from syncd.sync import Options, Signal
    from syncd.windows import DenyWindow, WindowError

    try:
        windows = tuple(DenyWindow.parse(c, d, obj.timezone) for c, d in deny_windows)
    except WindowError as exc:
        raise UsageError(str(exc)) from None
    return Options(
        paths=_paths(paths),
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
        signal=Signal(obj.redis_url, obj.redis_prefix, warn=lambda m: click.echo(m, err=True)),
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
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
@click.option("--no-prune", is_flag=True, help="Keep managed rows that are not in the files.")
@click.option(
    "--adopt", is_flag=True, help="Take over rows with the same name made by other means."
)
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
) -> int:
    """Validate, then diff against the database; changes nothing."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd import sync
        from syncd.render import plan_dict, render_plan

        options = _options(
            obj,
            paths,
            prune=not no_prune,
            adopt=adopt,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=deny_windows,
        )
        result = sync.plan(obj.database_url, options)
        if out_file:
            saved = plan_dict(result, result.revision)
            saved["paths"] = _paths(paths)
            saved["options"] = {"prune": not no_prune, "adopt": adopt}
            try:
                with open(out_file, "w", encoding="utf-8") as fh:
                    json.dump(saved, fh, indent=2, ensure_ascii=False)
            except OSError as exc:
                raise UsageError(
                    f"--out {out_file}: cannot write the plan ({exc.strerror})"
                ) from None
        _note_no_database(obj, fmt)
        emit(render_plan(result, fmt, revision=result.revision, **text_options(fmt)))
        if fmt == "github":
            _step_summary(render_plan(result, "markdown", revision=result.revision))
        if detailed_exitcode and not result.empty:
            return EXIT_CHANGES_PENDING
        return EXIT_OK

    return run(ctx, fmt, body)


def _note_no_database(obj: Context, fmt: str) -> None:
    from syncd.store import database_exists

    if fmt == "text" and not database_exists(obj.database_url):
        click.echo(
            f"note: no database at {redact_url(obj.database_url)} yet; planned against an "
            "empty table (nothing was created)",
            err=True,
        )


def _load_saved_plan(path: str) -> dict[str, Any] | None:
    if not path.endswith(".json"):
        return None
    from syncd import savedplan

    return savedplan.read(path)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.option("--dry-run", is_flag=True, help="Plan only (same as `syncd plan`).")
@click.option("--no-prune", is_flag=True, help="Keep managed rows that are not in the files.")
@click.option(
    "--adopt", is_flag=True, help="Take over rows with the same name made by other means."
)
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
        )

    def body() -> int:
        from syncd import sync
        from syncd.render import render_plan
        from syncd.terminal import progress

        saved = _load_saved_plan(paths[0]) if len(paths) == 1 else None
        prune, adopting, use_paths = not no_prune, adopt, paths
        if saved is not None:
            use_paths = tuple(saved["paths"])
            prune = saved.get("options", {}).get("prune", True)
            adopting = saved.get("options", {}).get("adopt", False)
        options = _options(
            obj,
            use_paths,
            prune=prune,
            adopt=adopting,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=deny_windows,
            force_window=force_window,
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
            _step_summary(render_plan(result, "markdown", applied=True, revision=revision))
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
@click.argument("name", shell_complete=complete_schedule_name)
@click.argument("paths", nargs=-1, type=click.Path())
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
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def next_command(
    ctx: click.Context,
    name: str,
    paths: tuple[str, ...],
    count: int,
    after: str | None,
    from_db: bool,
    fmt: str,
) -> int:
    """The next N fire times of a schedule, in its timezone, computed by the beat's code."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.nextrun import find_schedule, fire_times_for, render_next

        start = _parse_after(after)
        schedule, anchor = find_schedule(
            name,
            _paths(paths),
            from_db=from_db,
            database_url=obj.database_url,
            default_timezone=obj.timezone,
            now=start,
            limits=obj.limits,
        )
        tz_name, times = fire_times_for(
            schedule, start, count, default_timezone=obj.timezone, anchor=anchor
        )
        emit(render_next(schedule.name, tz_name, times, fmt))
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@click.option("--base", required=True, help="Git ref to compare against (e.g. origin/main).")
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT_OPTION
@NO_COLOR_OPTION
@COMPACT_OPTION
@click.pass_context
def diff(ctx: click.Context, base: str, paths: tuple[str, ...], fmt: str) -> int:
    """The plan between the schedules at a git ref and the working tree; no database."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.gitdiff import diff as git_diff
        from syncd.render import render_plan

        result, warnings = git_diff(
            base, _paths(paths), default_timezone=obj.timezone, limits=obj.limits
        )
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        emit(render_plan(result, fmt, **text_options(fmt)))
        if fmt == "github":
            _step_summary(render_plan(result, "markdown"))
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.option("--no-prune", is_flag=True, help="Keep managed rows that are not in the files.")
@click.option("--adopt", is_flag=True, help="Take over rows made by other means.")
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
            _options(
                obj,
                paths,
                prune=not no_prune,
                adopt=adopt,
                allow_empty=allow_empty,
                max_delete=max_delete,
                deny_windows=deny_windows,
            ),
            lock_timeout=lock_timeout,
            fmt=fmt,
            emit=emit,
            max_applies=max_applies,
            debounce_ms=debounce,
        )
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write one file per source file into DIR instead of one document to stdout.",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def export(ctx: click.Context, out_dir: str | None, fmt: str) -> int:
    """Write the database's schedules as YAML that re-applies with no changes.

    --format json prints the same file as JSON (also valid YAML); markdown fences the YAML;
    github is refused (exit 64): an export has no lines in files to annotate.
    """
    obj: Context = ctx.obj

    def body() -> int:
        from pathlib import Path

        from syncd import export as exporting
        from syncd.store import connect, require_database, snapshot

        if fmt not in exporting.FORMATS:
            raise UsageError(
                f"export --format {fmt}: an export annotates no file lines; use text (YAML), "
                "json or markdown"
            )
        require_database(obj.database_url)
        with connect(obj.database_url) as conn:
            rows = snapshot(conn)
        if not out_dir:
            click.echo(exporting.render(rows, fmt), nl=False)
            return EXIT_OK
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text_ in exporting.export(rows, exporting.modeline(folder)).items():
            (folder / name).write_text(text_, encoding="utf-8")
            written.append(str(folder / name))
        if fmt == "json":
            emit(json.dumps({"written": written}, indent=2))
        elif fmt == "markdown":
            emit("\n".join(f"- wrote `{path}`" for path in written))
        else:
            for path in written:
                click.echo(f"wrote {path}", err=True)
        return EXIT_OK

    return run(ctx, fmt, body)


@main.command()
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def status(ctx: click.Context, fmt: str) -> int:
    """Revision, last apply, drift, beat leader, workers online."""
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.status import gather, render

        env = dict(os.environ)
        env["SYNCD_DATABASE_URL"] = obj.database_url
        if obj.redis_url:
            env["SYNCD_REDIS_URL"] = obj.redis_url
        emit(render(gather(Settings.from_env(env)), fmt))
        return EXIT_OK

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


__all__ = ["UnknownSchedule", "main"]

# --- commands living in their own modules ------------------------------------------------
# Each registers with one line here.
from syncd.servecli import serve_command  # noqa: E402
from syncd.trigger import trigger_command  # noqa: E402

main.add_command(serve_command)
main.add_command(trigger_command)

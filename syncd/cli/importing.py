"""`syncd import --from KIND SOURCE`: the command line of syncd.importers."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from syncd.cli.group import main, run
from syncd.cli.options import FORMAT_OPTION
from syncd.cli.terminal import NO_COLOR_OPTION
from syncd.errors import EXIT_OK, UsageError


@main.command("import")
@click.option(
    "--from",
    "kind",
    required=True,
    type=click.Choice(["django-celery-beat", "redbeat", "fba", "crontab"]),
    help="What SOURCE is.",
)
@click.argument("source")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write DIR/<kind>.yaml instead of printing the YAML.",
)
@click.option("--force", is_flag=True, help="Overwrite the file in --out if it exists.")
@click.option(
    "--timezone",
    "zone",
    help="Zone the source evaluated its times in (redbeat: the app's timezone, default UTC; "
    "fba: DATETIME_TIMEZONE, default Asia/Shanghai; crontab: default UTC).",
)
@click.option("--task", help="crontab: the Celery task that runs each line's command.")
@click.option("--name-prefix", default="", help="crontab: put before every derived name.")
@click.option(
    "--prefix", "key_prefix", default="redbeat:", show_default=True, help="redbeat: key prefix."
)
@click.option("--table", help="fba: the table (default: task_scheduler or sys_task_scheduler).")
@click.option(
    "--accept-or-days",
    is_flag=True,
    help="Import crontabs with both day fields restricted enabled: Celery ANDed them, cron "
    "ORs them (default: such schedules are written disabled, with a note).",
)
@FORMAT_OPTION
@NO_COLOR_OPTION
@click.pass_context
def import_command(
    ctx: click.Context,
    kind: str,
    source: str,
    out_dir: str | None,
    force: bool,
    zone: str | None,
    task: str | None,
    name_prefix: str,
    key_prefix: str,
    table: str | None,
    accept_or_days: bool,
    fmt: str,
) -> int:
    """Write YAML from django-celery-beat (a database URL), RedBeat (a Redis URL), fba (a
    database URL) or a crontab file (a path, - for stdin). Reads only; exit 1 when some
    entries could not be carried (the file holds the others), every note on stderr."""

    def body() -> int:
        from pathlib import Path

        from celeryapp.settings import check_timezone
        from syncd.errors import EXIT_INVALID
        from syncd.export import modeline
        from syncd.importers import writer
        from syncd.importers.run import run_import

        if fmt not in writer.FORMATS:
            raise UsageError(
                f"import --format {fmt}: an import annotates no file lines; use "
                "text, json or markdown"
            )
        if zone is not None:
            check_timezone(zone, "--timezone")
        imported = run_import(
            kind,
            source,
            now=datetime.now(UTC),
            timezone_name=zone,
            task=task,
            prefix=key_prefix,
            table=table,
            name_prefix=name_prefix,
            accept_or_days=accept_or_days,
        )
        written: list[str] = []
        if out_dir:
            folder = Path(out_dir)
            target = folder / writer.file_name(imported)
            if target.exists() and not force:
                raise UsageError(f"{target} exists; pass --force to overwrite it")
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(writer.document(imported, modeline(folder)), encoding="utf-8")
            written.append(str(target))
        out, notes = writer.render(imported, fmt, written)
        click.echo(out, nl=False)
        for line in notes:
            click.echo(line, err=True)
        return EXIT_INVALID if imported.skipped else EXIT_OK

    return run(ctx, fmt, body)

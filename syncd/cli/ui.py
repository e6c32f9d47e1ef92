"""`syncd ui`: the read-only page of `syncd serve`, on a listener of its own, for local use."""

from __future__ import annotations

import os

import click

from syncd.cli.group import Context, main, run, warn
from syncd.errors import UsageError


@main.command("ui")
@click.option(
    "--listen",
    default="127.0.0.1:8651",
    show_default=True,
    help="HOST:PORT to serve the page on (port 0: any free one).",
)
@click.pass_context
def ui_command(ctx: click.Context, *, listen: str) -> int:
    """Serve the schedules page (schedules, one schedule's runs and revisions, the revision
    history, the load chart) until interrupted. Read-only.

    On a loopback address no credentials are needed; on any other, set SYNCD_UI_BASIC_AUTH
    (user:password) or SYNCD_UI_TOKEN (a bearer token of 32 characters or more)."""
    from syncd.listener import parse_listen
    from syncd.page import PREFIX
    from syncd.pagesite import Site, UiServer, auth_from_env, is_loopback

    obj: Context = ctx.obj

    def body() -> int:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        auth = auth_from_env(os.environ)
        if auth is None and not is_loopback(host):
            raise UsageError(
                f"--listen {listen}: the page would be open to the network; set "
                "SYNCD_UI_BASIC_AUTH or SYNCD_UI_TOKEN, or listen on 127.0.0.1"
            )
        try:
            server = UiServer((host, port), Site(obj.settings, auth, warn))
        except OSError as exc:
            raise UsageError(f"--listen {listen}: {exc.strerror}") from None
        shown_host, shown_port = str(server.server_address[0]), server.server_address[1]
        click.echo(f"syncd ui: http://{shown_host}:{shown_port}{PREFIX}/ (Ctrl-C stops it)")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0

    return run(ctx, "text", body)

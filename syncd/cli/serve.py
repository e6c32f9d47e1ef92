"""The `syncd serve` command: options, settings from the environment, start and stop.

SIGTERM and Ctrl-C set the stop event only: the sync in progress finishes (its transaction
commits or rolls back whole), the listener closes, queued notifications get a few seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from syncd.cli.group import Context, main, run, warn
from syncd.cli.options import (
    ADOPT_OPTION,
    LOCK_TIMEOUT,
    guard_options,
    sync_options,
)
from syncd.errors import EXIT_OK, UsageError
from syncd.spec import parse_duration


def _read_secret(variable: str) -> bytes | None:
    path = os.environ.get(variable)
    if not path:
        return None
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise UsageError(f"{variable}={path}: cannot read the secret ({exc.strerror})") from None
    if not secret:
        raise UsageError(f"{variable}={path}: the file is empty")
    return secret


def _interval(value: str) -> float:
    text = value.strip()
    seconds = float(text) if text.replace(".", "", 1).isdecimal() else parse_duration(text)
    if seconds is None or not 1 <= seconds <= 86_400:
        raise UsageError(
            f"--interval {value!r}: write a duration between 1s and 1d, like 30s or 5m"
        )
    return float(seconds)


def _check_path(path: str) -> str:
    norm = os.path.normpath(path)
    if os.path.isabs(norm) or norm == ".." or norm.startswith("../"):
        raise UsageError(f"--path {path!r} must be a path inside the repository (like schedules)")
    return norm


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("syncd")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


# Over 60 lines only by its signature: one parameter a line for each click option.
@main.command("serve")
@click.option(
    "--repo",
    envvar="SYNCD_REPO",
    default=None,
    help="Git URL to track: https://, ssh://, git:// or file:// (required) [SYNCD_REPO].",
)
@click.option(
    "--branch", envvar="SYNCD_BRANCH", default="main", show_default=True, help="[SYNCD_BRANCH]"
)
@click.option(
    "--path",
    "path",
    envvar="SYNCD_REPO_PATH",
    default="schedules",
    show_default=True,
    help="Directory (or file) of schedules inside the repository [SYNCD_REPO_PATH].",
)
@click.option(
    "--interval",
    envvar="SYNCD_INTERVAL",
    default="30s",
    show_default=True,
    help="How often to fetch (a duration) [SYNCD_INTERVAL].",
)
@click.option(
    "--listen",
    envvar="SYNCD_LISTEN",
    default="127.0.0.1:8650",
    show_default=True,
    help="HOST:PORT of /status, /healthz, /readyz and the webhooks; 'off' for none [SYNCD_LISTEN].",
)
@click.option(
    "--state-dir",
    envvar="SYNCD_STATE_DIR",
    default=".syncd-state",
    show_default=True,
    help="Where the clone is kept [SYNCD_STATE_DIR].",
)
@click.option("--once", is_flag=True, help="Sync once and exit with apply's exit codes.")
@click.option(
    "--self-heal",
    is_flag=True,
    envvar="SYNCD_SELF_HEAL",
    help="Revert drift (managed rows edited by hand) within an interval [SYNCD_SELF_HEAL].",
)
@ADOPT_OPTION
@click.option(
    "--scope",
    envvar="SYNCD_SCOPE",
    default=None,
    metavar="NAME",
    help="The scope (team) this controller owns: the scope of every file that names none "
    "(docs/sync.md#scopes) [SYNCD_SCOPE].",
)
@click.option("--lock-timeout", type=LOCK_TIMEOUT, default=30.0, show_default=True)
@guard_options
@click.pass_context
def serve_command(
    ctx: click.Context,
    repo: str | None,
    branch: str,
    path: str,
    interval: str,
    listen: str,
    state_dir: str,
    once: bool,
    self_heal: bool,
    adopt: bool,
    scope: str | None,
    lock_timeout: float,
    allow_empty: bool,
    max_delete: int | None,
    deny_windows: tuple[tuple[str, str], ...],
) -> int:
    """Track a git branch and keep the schedule table at its head (the GitOps controller).

    Fetches on the interval and on a signed webhook, and applies the tree of exactly one
    commit (validate, plan, guards, apply); an invalid commit leaves the last good one live.
    """
    obj: Context = ctx.obj

    def body() -> int:
        from syncd.gitsource import Credentials, GitSource
        from syncd.notify import Notifier
        from syncd.serve import Controller, ServeConfig

        if not repo:
            raise UsageError("give the git repository to track: --repo URL or SYNCD_REPO")
        _logging()
        seconds = _interval(interval)
        inner = _check_path(path)
        webhook_secret = _read_secret("SYNCD_WEBHOOK_SECRET_FILE")
        notify_secret = _read_secret("SYNCD_NOTIFY_SECRET_FILE")
        options = sync_options(
            obj,
            (inner,),
            prune=True,
            adopt=adopt,
            allow_empty=allow_empty,
            max_delete=max_delete,
            deny_windows=deny_windows,
            scope=scope,
        )
        address = None if once else _address(listen)
        directory = _state_directory(state_dir)
        source = GitSource(repo, branch, directory, Credentials.from_env(os.environ))
        notifier = Notifier(os.environ.get("SYNCD_NOTIFY_URL") or None, notify_secret)
        controller = Controller(
            ServeConfig(
                database_url=obj.database_url,
                branch=branch,
                path=inner,
                interval=seconds,
                options=options,
                lock_timeout=lock_timeout,
                self_heal=self_heal,
            ),
            source,
            notifier=notifier,
            leader_fn=_leader(obj),
        )
        log = logging.getLogger("syncd.serve")
        try:
            if once:
                return _once(controller)
            return _run(controller, address, webhook_secret, log, _site(obj))
        finally:
            notifier.close()

    return run(ctx, "text", body)


def _address(listen: str) -> tuple[str, int] | None:
    """--listen as HOST:PORT, or None for 'off'."""
    if listen.lower() == "off":
        return None
    from syncd.listener import parse_listen

    try:
        return parse_listen(listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _state_directory(state_dir: str) -> Path:
    from syncd.serve import state_dir as make_state_dir

    try:
        return make_state_dir(state_dir)
    except OSError as exc:
        raise UsageError(f"--state-dir {state_dir}: {exc.strerror}") from None


def _once(controller: Any) -> int:
    """`serve --once`: one sync, its errors on stderr, one line of outcome; apply's codes."""
    outcome = controller.sync("once")
    for error in outcome.errors:
        warn(error)
    click.echo(
        f"{outcome.action}: {outcome.result or '-'} {(outcome.commit or '-')[:12]}"
        + (f" revision {outcome.revision}" if outcome.revision else "")
    )
    return int(outcome.exit_code)


def _leader(obj: Context) -> Any:
    """The beat leader as `syncd status` reads it, for /status."""
    from syncd.status import beat_leader

    return lambda: beat_leader(obj.settings)


def _site(obj: Context) -> Any:
    """The page on the listener, when credentials for it are set (checked at start)."""
    from syncd.pagesite import Site, auth_from_env

    auth = auth_from_env(os.environ)
    return Site(obj.settings, auth, warn) if auth is not None else None


def _run(
    controller: Any,
    address: tuple[str, int] | None,
    secret: bytes | None,
    log: Any,
    site: Any = None,
) -> int:
    from syncd.listener import make_server, serve_forever

    stop = threading.Event()
    alive = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()
        controller.wakeup.request()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = None
    try:
        if address is not None:
            try:
                server = make_server(
                    address, controller, secret=secret, loop_alive=alive, site=site
                )
            except OSError as exc:
                raise UsageError(f"--listen {address[0]}:{address[1]}: {exc.strerror}") from None
            serve_forever(server)
        host, port = server.server_address[:2] if server else ("-", "-")
        log.info(
            "serving %s branch %s path %s every %gs; listening on %s:%s%s",
            controller.source.display_url,
            controller.config.branch,
            controller.config.path,
            controller.config.interval,
            host,
            port,
            "" if secret else " (webhooks off: no SYNCD_WEBHOOK_SECRET_FILE)",
        )
        alive.set()
        controller.run(stop)
    finally:
        alive.clear()
        if server is not None:
            server.shutdown()
            server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped")
    return EXIT_OK

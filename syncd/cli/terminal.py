"""What the terminal gets: colour (on a TTY, off with NO_COLOR or --no-color), compact
plans, a progress line on stderr during long applies, and shell completion of schedule
names. The rendering itself stays pure in syncd.render; this module only decides."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

_NO_COLOR = "syncd.no_color"
_COMPACT = "syncd.compact"


def _no_color_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_NO_COLOR] = True
        ctx.color = False  # click.echo then strips any style that slipped through


NO_COLOR_OPTION = click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    callback=_no_color_callback,
    help="No colour in text output (also when NO_COLOR is set, or output is not a terminal).",
)


def _compact_callback(ctx: click.Context, _param: click.Parameter, value: bool | None) -> None:
    ctx.meta[_COMPACT] = value


COMPACT_OPTION = click.option(
    "--compact/--no-compact",
    default=None,
    expose_value=False,
    callback=_compact_callback,
    help="Text plans: counts per action and the first changes of each (default: compact "
    "past 100 changes; --no-compact shows every change).",
)


def color_enabled(*, err: bool = False, stream: TextIO | None = None) -> bool:
    """Colour only for a person at a terminal: not with --no-color, not with NO_COLOR set
    to anything non-empty (no-color.org), not when the stream is a pipe or a file."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and (ctx.meta.get(_NO_COLOR) or ctx.find_root().color is False):
        return False
    if os.environ.get("NO_COLOR"):
        return False
    out = stream or (sys.stderr if err else sys.stdout)
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def text_options(fmt: str) -> dict[str, Any]:
    """The keyword arguments render_plan takes for this command's text output."""
    if fmt != "text":
        return {}
    ctx = click.get_current_context(silent=True)
    compact = ctx.meta.get(_COMPACT) if ctx is not None else None
    return {"color": color_enabled(), "compact": compact}


# --- progress ---------------------------------------------------------------------------

SPINNER = "|/-\\"


class Progress:
    """One line on stderr, redrawn in place: the phase of a long apply and the seconds it
    has taken. Shown only on a terminal and only after `delay` seconds, so short applies
    print nothing; erased when done, so the plan that follows reads as it always did."""

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float = 0.5,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.delay = delay
        self.interval = interval
        self.clock = clock
        self.phase = ""
        self.started = clock()
        self.shown = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __call__(self, phase: str) -> None:
        with self._lock:
            self.phase = phase

    def line(self, tick: int) -> str:
        elapsed = self.clock() - self.started
        return f"syncd: {self.phase} {SPINNER[tick % len(SPINNER)]} {elapsed:.1f}s"

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        tick = 0
        while not self._stop.is_set():
            with self._lock:
                self.stream.write("\r\x1b[K" + self.line(tick))
                self.stream.flush()
                self.shown = True
            tick += 1
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@contextmanager
def progress(fmt: str) -> Iterator[Callable[[str], None] | None]:
    """A Progress on stderr when it is a terminal and the output is text; else None."""
    if fmt != "text" or not sys.stderr.isatty():
        yield None
        return
    shown = Progress(sys.stderr)
    shown.start()
    try:
        yield shown
    finally:
        shown.stop()


# --- shell completion -------------------------------------------------------------------


def complete_schedule_name(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[Any]:
    """Names of the schedules in the files the command line names (default schedules/).
    Completion must never fail loudly: any problem completes nothing."""
    from click.shell_completion import CompletionItem

    paths = [str(p) for p in ctx.params.get("paths") or ()] or ["schedules"]
    try:
        names = _names_in(paths)
    except Exception:  # noqa: BLE001 - a broken file must not break the user's shell
        return []
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


def _names_in(paths: list[str]) -> set[str]:
    """Schedule names read straight from the files (no validation: an invalid file still
    completes its names)."""
    import yaml

    from syncd.sources import read_sources

    names: set[str] = set()
    sources, _ = read_sources(paths)
    for source in sources:
        try:
            value = yaml.safe_load(source.data)
        except yaml.YAMLError:
            continue
        items = value.get("schedules") if isinstance(value, dict) else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.add(item["name"])
    return names

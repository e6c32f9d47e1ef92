"""`async def` tasks on the gevent pool: each run gets its own event loop, in its own greenlet.

`asyncio.run()` per call is the simple answer, and gevent's monkey-patched selectors make
the loop cooperative: while one loop waits in select(), the hub runs the other greenlets.
But asyncio keeps "the running loop" (and the async-generator hooks) per OS thread, and all
greenlets share one thread: the second concurrent run would fail with "asyncio.run() cannot
be called from a running event loop", or worse, `asyncio.sleep` would schedule on another
task's loop. A greenlet switch tracer saves and restores that per-thread state on every
switch, so each greenlet sees its own loop. It is installed once per thread, chains any
tracer installed before it (gevent's monitor), and costs two C calls per switch.

Without gevent (solo or prefork pool) the tracer is inert and this is plain asyncio.run.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import greenlet  # type: ignore[import-untyped]

T = TypeVar("T")

_Hooks = Any  # sys.get_asyncgen_hooks() result
_State = tuple[asyncio.AbstractEventLoop | None, _Hooks]


class _LoopPerGreenlet:
    def __init__(self, previous: Callable[[str, Any], Any] | None) -> None:
        self.previous = previous
        self.saved: weakref.WeakKeyDictionary[greenlet.greenlet, _State] = (
            weakref.WeakKeyDictionary()
        )
        self.default: _State = (None, sys.get_asyncgen_hooks())

    def __call__(self, event: str, args: Any) -> None:
        if event in ("switch", "throw"):
            origin, target = args
            state: _State = (asyncio.events._get_running_loop(), sys.get_asyncgen_hooks())
            if state[0] is not None or state[1] != self.default[1]:
                self.saved[origin] = state
            else:
                self.saved.pop(origin, None)
            loop, hooks = self.saved.get(target, self.default)
            asyncio.events._set_running_loop(loop)
            sys.set_asyncgen_hooks(*hooks)
        if self.previous is not None:
            self.previous(event, args)


def install() -> None:
    """Make asyncio's per-thread state per-greenlet in this thread (idempotent).

    The tracer itself marks a thread as done: greenlet's trace function is per OS thread,
    while a `threading.local` would be per greenlet under monkey-patching, and a second
    tracer chained over the first would save state the first had already swapped.
    """
    previous = greenlet.gettrace()
    if isinstance(previous, _LoopPerGreenlet):
        return
    greenlet.settrace(_LoopPerGreenlet(previous))


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a fresh event loop owned by the current greenlet."""
    install()
    with asyncio.Runner() as runner:
        return runner.run(coro)

"""Example tasks: a run of each is visible in the result backend (DESIGN §5).

None of these is scheduled by default (fba shipped demo schedules that ran in production,
W15); the project's example schedules reference them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from celeryapp.app import app


def _now() -> str:
    return datetime.now(UTC).isoformat()


@app.task(name="celeryapp.tasks.echo")
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return the arguments it was called with."""
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="celeryapp.tasks.sleep")
def sleep(seconds: float) -> dict[str, Any]:
    """Sleep (cooperatively under gevent) and report when it started and finished."""
    started = _now()
    time.sleep(float(seconds))
    return {"slept": seconds, "started": started, "finished": _now()}


@app.task(name="celeryapp.tasks.async_echo")
async def async_echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """`echo`, as a coroutine: proves async tasks run and return on the worker."""
    await asyncio.sleep(0)
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="celeryapp.tasks.async_sleep")
async def async_sleep(seconds: float) -> dict[str, Any]:
    """`asyncio.sleep`, reporting start and end, so concurrent runs can be shown to overlap."""
    started = _now()
    await asyncio.sleep(float(seconds))
    return {"slept": seconds, "started": started, "finished": _now()}

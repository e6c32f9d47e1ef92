"""A task that counts, per task id, every message the worker receives and every execution.

Loaded into a real worker with `celery -A celeryapp.app worker -P gevent -I tests.tally_task`
(the test puts the checkout on PYTHONPATH and the tally folder in SYNCD_TALLY_DIR). Read the
counts with `tests.tally`.

Where the counting happens, and why there:

* **received**: in the task's consumer strategy. Celery's worker calls
  `consumer.strategies[task name](message, ...)` once per message taken from the broker
  (celery/worker/consumer/consumer.py), and the default strategy
  (celery/worker/strategy.py) builds the Request and hands it on; the once-only check of
  `celeryapp/once.py` runs later, in `OnceOnlyRequest.revoked()` when the pool is about to
  execute it (and, for a message with an expiry, already in the strategy). Wrapping the
  strategy counts each message before either, so a duplicate the once-only check drops is
  still counted. The line also names the beat that sent it (header `syncd_beat`, when the
  beat sets it) and the fire time of a jittered schedule (header `syncd_fire`); a line of
  **options** beside it holds the message's priority and its `x-` headers (a schedule's
  `priority` and `headers`, as the worker got them).
* **executed**: one line per run of the task body, which only runs when the once-only
  check let the message through; **started** the same at the body's start (with the end,
  the span of each run: overlap guards are checked with it).

`tally_quiet` is the same without a result row (`ignore_result`): with STARTED and SUCCESS
written to PostgreSQL a gevent worker on these machines executes tens of runs a second,
and the 10 000-run burst would take minutes to drain.

Each count is one line appended with a single `write` to a file opened with O_APPEND, so
concurrent greenlets (and a second worker) never interleave or lose a line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celeryapp.app import app
from celeryapp.base import TaskBase

TALLY_TASK = "tests.tally_task.tally"
QUIET_TASK = "tests.tally_task.tally_quiet"
RECEIVED = "received.log"
EXECUTED = "executed.log"
STARTED = "started.log"
OPTIONS = "options.log"
SENDER_HEADER = "syncd_beat"
FIRE_HEADER = "syncd_fire"


def _folder() -> Path:
    return Path(os.environ["SYNCD_TALLY_DIR"])


def append(name: str, line: str) -> None:
    fd = os.open(_folder() / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class TallyTask(TaskBase):
    """TaskBase (once-only check, overlap guard, retries) with a counting strategy."""

    def start_strategy(self, app: Any, consumer: Any, **kwargs: Any) -> Callable[..., Any]:
        handler = super().start_strategy(app, consumer, **kwargs)

        def counting(message: Any, *args: Any, **kw: Any) -> Any:
            headers = message.headers or {}
            append(
                RECEIVED,
                f"{headers.get('id')} {time.time():.3f} {headers.get(SENDER_HEADER) or '-'} "
                f"{headers.get(FIRE_HEADER) or '-'}",
            )
            options = {
                "priority": (message.properties or {}).get("priority"),
                "headers": {k: v for k, v in headers.items() if k.startswith("x-")},
            }
            append(OPTIONS, f"{headers.get('id')} {json.dumps(options, separators=(',', ':'))}")
            return handler(message, *args, **kw)

        return counting


@app.task(name=TALLY_TASK, base=TallyTask, bind=True)
def tally(self: Any, seconds: float = 0) -> str:
    """Record this execution; optionally take `seconds` (gevent-friendly sleep)."""
    append(STARTED, f"{self.request.id} {time.time():.3f} {os.getpid()}")
    if seconds:
        time.sleep(float(seconds))
    append(EXECUTED, f"{self.request.id} {time.time():.3f} {os.getpid()}")
    return str(self.request.id)


@app.task(name=QUIET_TASK, base=TallyTask, bind=True, ignore_result=True)
def tally_quiet(self: Any) -> None:
    """`tally` without a result row: no STARTED and SUCCESS writes to the database, so a
    burst of 10 000 runs is executed at the speed of the once-only check and the broker."""
    append(EXECUTED, f"{self.request.id} {time.time():.3f} {os.getpid()}")

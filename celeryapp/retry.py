"""Which errors are worth retrying, and how long to wait: exponential backoff with jitter.

Only transient database trouble is retried (a restarted server, a dropped connection, a
serialization failure): retrying a bug only repeats it. fba retried every SQLAlchemyError
with Celery's fixed 180 s delay, and never for async tasks (W13): here the check runs on the
coroutine's outcome too, because async bodies are run to completion inside the task call.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import psycopg
from sqlalchemy import exc as sa_exc

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.DisconnectionError,
    psycopg.OperationalError,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT_ERRORS)


def backoff_delay(
    retries: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `retries + 1` ("equal jitter").

    The ceiling doubles per attempt up to `cap`; the wait is between half the ceiling and the
    ceiling, so retries of many tasks that failed together spread out but still back off.
    """
    ceiling = min(cap, base * (2.0 ** max(0, retries)))
    return ceiling / 2 + rand() * ceiling / 2

"""Pause Python's cyclic garbage collector for one bounded batch of work.

Loading, validating and planning 10 000 schedules makes about a million small dicts, lists
and tuples. Each allocation burst triggers a collection, and every third-generation pass
walks every live container again (SQLAlchemy, psycopg and our own): measured, that was
45 % of a cold apply (2.27 s -> 1.25 s with the collector paused). Nothing built here
forms reference cycles that must be reclaimed mid-run (the YAML node tree, the values and
the plan are trees, freed by reference counting), so the collector waits until the batch
is done and then runs as usual. Memory stays bounded: the peak is what the batch holds.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def collector_paused(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():  # nested, or the caller chose to run without it
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper

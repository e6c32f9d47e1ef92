"""How fast this shared machine is right now, printed beside every benchmark table.

The hosts are shared: the same pure-Python loop takes 0.20 s one minute and 0.35 s the
next. Ratios measured side by side in one run hold; absolute figures should be read
against this reference (the best of three runs of a fixed loop, taken as the table is
printed).
"""

from __future__ import annotations

import time


def reference_seconds() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(5_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def reference_line() -> str:
    return (
        f"machine reference: a 5M-step Python loop took {reference_seconds():.2f} s "
        "(0.20 s seen on a quiet host of this kind; lower is faster)"
    )

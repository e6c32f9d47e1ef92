"""The plain-words description of cron expressions (syncd/crontext.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cronsim import CronSim, CronSimError
from hypothesis import given
from hypothesis import strategies as st

from syncd.crontext import describe


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 3 * * *", "At 03:00"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("30 8 * * mon-fri", "At 08:30, Monday through Friday"),
        ("0 0 1 * *", "At 00:00, on day 1 of the month"),
        ("@daily", "At 00:00"),
        ("@hourly", "Every hour"),
        ("@WEEKLY", "At 00:00, only on Sunday"),
        ("0  3 *  * *", "At 03:00"),
        ("30 2 * jan,jul *", "At 02:30, only in January and July"),
        # Vixie cron: both day fields restricted, a day matching either fires.
        ("0 9 1,15 * 1", "At 09:00, on day 1 and 15 of the month, or on Monday"),
        ("0 0 13 * fri", "At 00:00, on day 13 of the month, or on Friday"),
        ("0 9 1 * mon-fri", "At 09:00, on day 1 of the month, or Monday through Friday"),
        # A day field starting with * is unrestricted for that rule: both must match.
        ("0 9 */2 * 1-5", "At 09:00, every 2 days, Monday through Friday"),
        ("0 9 */2 * mon", "At 09:00, every 2 days, only on Monday"),
        ("0 0 1,*/10 * *", "At 00:00, on day 1 and every 10 days of the month"),
        ("0 0 * * 5l", "At 00:00, on the last Friday of the month"),
    ],
)
def test_words(expr: str, words: str) -> None:
    assert describe(expr) == words


@pytest.mark.parametrize(
    "expr", ["bogus", "@fortnightly", "0 0 0 * * *", "", "1 2 3", "0 * * * 0,*"]
)
def test_what_cannot_be_worded_is_none(expr: str) -> None:
    assert describe(expr) is None


def _field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    number = st.integers(low, high).map(str)
    if names:
        number = number | st.sampled_from(names)
    span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda t: f"{min(t)}-{max(t)}"
    )
    step = st.tuples(st.sampled_from(["*", f"{low}-{high}"]), st.integers(1, high - low + 1)).map(
        lambda t: f"{t[0]}/{t[1]}"
    )
    atom = number | span | step | st.just("*")
    return st.lists(atom, min_size=1, max_size=3).map(",".join)


DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
CRON = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12, MONTHS), _field(0, 7, DAYS)
).map(" ".join)


@given(CRON)
def test_any_expression_is_worded_or_left_unworded_never_an_error(expr: str) -> None:
    """The library may not word every valid expression (`0,*` in a field); those get None
    and the plan shows the expression alone. The words say "or" exactly when cron fires on
    either day field."""
    try:
        CronSim(expr, datetime(2026, 1, 1, tzinfo=UTC))
    except CronSimError:
        return  # not valid cron: validation reports it, no words needed
    words = describe(expr)
    dom, dow = expr.split()[2], expr.split()[4]
    if words and not dom.startswith("*") and not dow.startswith("*"):
        assert ", or " in words
    elif words:
        assert ", or " not in words

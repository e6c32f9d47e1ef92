"""Retry policy of the task base class: which errors, and how long to wait."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from celeryapp.retry import backoff_delay, is_transient


@pytest.mark.parametrize(
    ("retries", "low", "high"),
    [
        (0, 0.5, 1.0),
        (1, 1.0, 2.0),
        (2, 2.0, 4.0),
        (5, 16.0, 32.0),
        (6, 30.0, 60.0),
        (30, 30.0, 60.0),
    ],
)
def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half(
    retries: int, low: float, high: float
) -> None:
    assert backoff_delay(retries, base=1, cap=60, rand=lambda: 0.0) == low
    assert backoff_delay(retries, base=1, cap=60, rand=lambda: 1.0) == high
    assert low <= backoff_delay(retries, base=1, cap=60) <= high


def test_backoff_of_a_negative_retry_count_is_the_first_one() -> None:
    assert backoff_delay(-1, base=2, cap=60, rand=lambda: 1.0) == 2.0


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        sa_exc.OperationalError("SELECT 1", {}, Exception("gone")),
        sa_exc.DisconnectionError("pool"),
    ],
)
def test_transient_database_errors(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")),
        psycopg.errors.UndefinedTable("no such table"),
    ],
)
def test_bugs_and_permanent_errors_are_not_retried(error: BaseException) -> None:
    assert not is_transient(error)

"""`overlap: buffer_one` against the real Redis: one run at a time, at most one waiting,
and the waiting one starts the moment the running one ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from celeryapp.overlap import BUFFERED, DROP, RUN, OverlapGuard, buffer_one_guard
from celeryapp.settings import buffered_key, running_key


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _keys(prefix: str) -> tuple[str, str]:
    return running_key(prefix, "s"), buffered_key(prefix, "s")


def test_admit_runs_buffers_one_and_drops_the_rest(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    running, buffered = _keys(redis_prefix)
    first, second, third = (OverlapGuard(r, running) for _ in range(3))
    assert first.admit(buffered) == RUN
    assert second.admit(buffered) == BUFFERED
    assert third.admit(buffered) == DROP
    first.release()
    # The running one ended, the buffered one has not started yet: a newcomer is still
    # dropped (the waiting one goes first).
    assert OverlapGuard(r, running).admit(buffered) == DROP
    assert second.wait_turn(buffered, poll=0.01)
    assert r.get(running) == second.token.encode() and r.get(buffered) is None
    # Now it runs: the next one may wait again.
    assert OverlapGuard(r, running).admit(buffered) == BUFFERED
    second.release()


def test_the_buffered_run_starts_when_the_running_one_ends(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    running, buffered = _keys(redis_prefix)
    events: list[tuple[str, float]] = []

    def run(label: str, seconds: float) -> None:
        with buffer_one_guard(r, running, buffered, poll=0.01) as may_run:
            if not may_run:
                events.append((f"{label} dropped", time.monotonic()))
                return
            events.append((f"{label} start", time.monotonic()))
            time.sleep(seconds)
            events.append((f"{label} end", time.monotonic()))

    threads = []
    for label in "abc":
        thread = threading.Thread(target=run, args=(label, 0.5))
        thread.start()
        threads.append(thread)
        time.sleep(0.1)
    for thread in threads:
        thread.join(10)
    order = [e for e, _ in events]
    assert order == ["a start", "c dropped", "a end", "b start", "b end"], order
    at = dict(events)
    assert at["b start"] - at["a end"] < 0.2  # within a few polls
    assert r.get(running) is None and r.get(buffered) is None


def test_a_lost_buffer_claim_drops_the_waiting_run(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    running, buffered = _keys(redis_prefix)
    holder, waiter = OverlapGuard(r, running), OverlapGuard(r, running)
    assert holder.admit(buffered) == RUN
    assert waiter.admit(buffered) == BUFFERED
    r.delete(buffered)  # its TTL passed during a stall
    assert not waiter.wait_turn(buffered, poll=0.01)
    holder.release()


def test_a_waiting_worker_that_dies_frees_the_buffer_within_its_ttl(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    running, buffered = _keys(redis_prefix)
    holder = OverlapGuard(r, running, ttl=5)
    assert holder.admit(buffered) == RUN
    assert OverlapGuard(r, running, ttl=0.3).admit(buffered) == BUFFERED  # then never polls
    time.sleep(0.5)
    assert OverlapGuard(r, running).admit(buffered) == BUFFERED
    holder.release()

"""Each concern of the task base class alone, against the real Redis and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis

from celeryapp import overlap
from celeryapp.once import claim_execution, should_execute
from celeryapp.overlap import OverlapGuard, overlap_guard
from celeryapp.settings import Settings, executed_key, running_key
from celeryapp.tasklog import RunInfo
from syncd.store import migrate

pytestmark = pytest.mark.integration

DUE = "2026-03-08T07:00:00Z"
BEAT_RUN = RunInfo(schedule="report", due=DUE)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis[bytes]]:
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def test_the_first_claim_of_a_task_id_wins(r: redis.Redis[bytes], redis_prefix: str) -> None:
    task_id = f"report@{DUE}"
    assert claim_execution(r, redis_prefix, task_id, retention=60)
    assert not claim_execution(r, redis_prefix, task_id, retention=60)
    assert claim_execution(r, redis_prefix, f"report@{DUE}-other", retention=60)
    ttl = r.ttl(executed_key(redis_prefix, task_id))
    assert 0 < ttl <= 60


def test_once_only_decision_with_redis(redis_url: str, redis_prefix: str) -> None:
    settings = Settings.from_env(
        {
            "SYNCD_REDIS_URL": redis_url,
            "SYNCD_REDIS_PREFIX": redis_prefix,
            "SYNCD_ONCE_RETENTION": "120",
        }
    )
    task_id = f"report@{DUE}"
    assert should_execute(BEAT_RUN, task_id, 0, settings)
    assert not should_execute(BEAT_RUN, task_id, 0, settings)
    client: redis.Redis[bytes] = redis.Redis.from_url(redis_url)
    assert 0 < client.ttl(executed_key(redis_prefix, task_id)) <= 120
    client.close()
    # A retry of the run that claimed the id is the same run.
    assert should_execute(BEAT_RUN, task_id, 1, settings)
    manual = RunInfo(schedule="report", manual=True)
    assert should_execute(manual, "report@manual-1", 0, settings)
    assert should_execute(manual, "report@manual-1", 0, settings)
    assert should_execute(RunInfo(), "plain", 0, settings)
    assert should_execute(RunInfo(), "plain", 0, settings)


def test_once_only_runs_when_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0", redis_prefix="x")
    with caplog.at_level(logging.WARNING):
        assert should_execute(BEAT_RUN, f"unreachable@{DUE}", 0, settings)
    assert "once-only check skipped" in caplog.text
    assert "schedule=report" in caplog.text


def test_once_only_without_redis_claims_the_task_id_in_the_database(server_url: str) -> None:
    migrate(server_url)
    settings = Settings(database_url=server_url, redis_url=None)
    task_id = f"report@{DUE}-db"
    assert should_execute(BEAT_RUN, task_id, 0, settings)
    assert not should_execute(BEAT_RUN, task_id, 0, settings)
    assert should_execute(BEAT_RUN, task_id, 1, settings)  # a retry is the same run
    assert should_execute(BEAT_RUN, f"report@{DUE}-other", 0, settings)


def test_once_only_without_redis_lets_one_of_two_racing_copies_through(server_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    migrate(server_url)
    settings = Settings(database_url=server_url, redis_url=None)
    ids = [f"race@{DUE}-{i}" for i in range(50)]
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda t: should_execute(BEAT_RUN, t, 0, settings), ids * 4))
    assert sum(verdicts) == len(ids)


def test_overlap_guard_excludes_a_second_run_until_released(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    key = running_key(redis_prefix, "slow")
    with overlap_guard(r, key) as first:
        assert first
        with overlap_guard(r, key) as second:
            assert not second
        assert r.exists(key)
    assert not r.exists(key)
    with overlap_guard(r, key) as again:
        assert again


def test_overlap_guard_releases_when_the_body_fails(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    key = running_key(redis_prefix, "slow")
    with pytest.raises(ValueError, match="boom"), overlap_guard(r, key):
        raise ValueError("boom")
    assert not r.exists(key)


def test_a_guard_never_releases_a_key_it_no_longer_holds(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    key = running_key(redis_prefix, "slow")
    stale = OverlapGuard(r, key, ttl=60)
    assert stale.acquire()
    # Its TTL passed during a stall and another run took the schedule over.
    r.set(key, "other-run", px=60_000)
    assert not stale.refresh()
    stale.release()
    assert r.get(key) == b"other-run"


def test_the_refresher_keeps_a_long_run_s_key_alive(
    r: redis.Redis[bytes], redis_prefix: str
) -> None:
    key = running_key(redis_prefix, "slow")
    guard = OverlapGuard(r, key, ttl=0.6)
    assert guard.acquire()
    try:
        time.sleep(1.5)  # well past the TTL: only the refresher keeps the key
        assert r.get(key) == guard.token.encode()
    finally:
        guard.release()
    assert not r.exists(key)


def test_without_redis_the_guard_lets_runs_through_and_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overlap, "_warned_no_redis", type(overlap._warned_no_redis)())
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with overlap_guard(None, "k") as may_run:
                assert may_run
    assert caplog.text.count("overlap: skip and buffer_one are not enforced") == 1

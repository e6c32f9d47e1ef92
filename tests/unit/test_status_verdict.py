"""`syncd status` as a health check: the verdict, from what status gathered (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.status import heartbeat_age, judge, render

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def _status(beat: dict[str, Any], drift: list[str] | None = None) -> dict[str, Any]:
    beat = {**beat, "heartbeat_age_seconds": heartbeat_age(beat, NOW)}
    return {"beat": beat, "drift": drift or []}


def _redis_beat(seconds_ago: float) -> dict[str, Any]:
    seen = NOW - timedelta(seconds=seconds_ago)
    return {"leader": "host:1:abc", "heartbeat": {"holder": "host:1:abc", "time": seen.isoformat()}}


def test_a_leading_beat_with_a_fresh_heartbeat_and_no_drift_is_healthy() -> None:
    verdict = judge(_status(_redis_beat(0.8)), NOW, 30)
    assert verdict == {"healthy": True, "problems": [], "unreachable": False}


def test_no_leader_a_stale_heartbeat_and_drift_are_each_named() -> None:
    assert judge(_status({"leader": None, "heartbeat": None}), NOW, 30)["problems"] == [
        "no beat leads"
    ]
    stale = judge(_status(_redis_beat(45)), NOW, 30)
    assert stale["problems"] == ["the beat's heartbeat is 45 s old (more than 30 s)"]
    drift = judge(_status(_redis_beat(1), ["a", "b"]), NOW, 30)
    assert drift == {"healthy": False, "problems": ["drift: a, b"], "unreachable": False}


def test_an_expired_database_lease_is_no_leader() -> None:
    # Without Redis the lease row stays after its holder dies: its expiry says it is gone.
    lease = {
        "leader": "host:1:abc",
        "heartbeat": {"time": "2026-12-02T11:59:50Z", "lease_expires": "2026-12-02T11:59:53Z"},
    }
    assert judge(_status(lease), NOW, 30)["problems"] == ["no beat leads"]
    lease["heartbeat"]["lease_expires"] = "2026-12-02T12:00:02Z"
    assert judge(_status(lease), NOW, 30)["healthy"]


def test_an_unreachable_redis_is_not_a_health_verdict_but_a_service_error() -> None:
    verdict = judge(_status({"error": "Redis unreachable: connection refused"}), NOW, 30)
    assert verdict["unreachable"] and not verdict["healthy"]


def test_the_text_shows_the_leader_its_heartbeat_age_and_the_verdict() -> None:
    status = {
        "database": "sqlite:///x.db",
        "revision": 1,
        "last_apply": None,
        "schedules": {"managed": 1, "unmanaged": 0, "enabled": 1},
        "drift": [],
        "beat": {**_redis_beat(2), "heartbeat_age_seconds": 2.0},
        "workers": [],
        "health": {"healthy": True, "problems": [], "unreachable": False},
    }
    text = render(status, "text")
    assert "beat:      leader host:1:abc, heartbeat 2 s ago" in text
    assert "health:    healthy" in text


def _sharded(*leaders: str | None) -> dict[str, Any]:
    status = _status({**_redis_beat(1), "leader": ", ".join(sorted({x for x in leaders if x}))})
    if not any(leaders):
        status["beat"]["leader"] = None
    status["shards"] = [{"shard": i, "leader": h} for i, h in enumerate(leaders)]
    return status


def test_an_unled_shard_is_one_problem_and_no_shard_led_is_no_beat_leads() -> None:
    assert judge(_sharded("a", "b", "a", "b"), NOW, 30)["healthy"]
    assert judge(_sharded("a", None, "a", None), NOW, 30)["problems"] == [
        "no beat leads shards 1, 3"
    ]
    assert judge(_sharded("a", None), NOW, 30)["problems"] == ["no beat leads shard 1"]
    assert judge(_sharded(None, None, None), NOW, 30)["problems"] == ["no beat leads"]


def test_the_text_lists_each_shards_leader_only_when_sharded() -> None:
    status = {
        **_sharded("a", None),
        "database": "sqlite:///x",
        "revision": 1,
        "last_apply": None,
        "schedules": {"managed": 1, "unmanaged": 0, "enabled": 1},
        "workers": [],
    }
    status["health"] = judge(status, NOW, 30)
    for fmt in ("text", "markdown", "github"):
        assert "shards:    0 a, 1 none" in render(status, fmt) or "0 a, 1 none" in render(
            status, fmt
        )
    one = {**status, "shards": [{"shard": 0, "leader": "a"}]}
    assert "shards:" not in render(one, "text")

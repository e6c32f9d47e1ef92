"""`syncd serve`'s /metrics from a status view, parsed with the client library's parser."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from syncd import controller as decisions
from syncd.metrics import ServeMetrics

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def _samples(data: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(data.decode())
        for s in family.samples
    }


def _status(**beat: Any) -> dict[str, Any]:
    return {
        "state": decisions.SYNCED,
        "live": {"revision": 12},
        "drift": ["a", "b"],
        "deny_window": {"open": False},
        "beat": beat,
    }


def test_applies_revision_drift_and_the_beat_leader() -> None:
    metrics = ServeMetrics()
    metrics.applies.labels(decisions.APPLIED).inc()
    metrics.applies.labels(decisions.ERROR).inc(2)
    seen = (NOW - timedelta(seconds=4)).isoformat()
    got = _samples(metrics.render(_status(leader="h:1:x", heartbeat={"time": seen}), NOW))
    assert got[("syncd_apply_total", (("result", "applied"),))] == 1
    assert got[("syncd_apply_total", (("result", "error"),))] == 2
    assert got[("syncd_revision", ())] == 12
    assert got[("syncd_drifted_schedules", ())] == 2
    assert got[("syncd_beat_leader", ())] == 1
    assert got[("syncd_beat_heartbeat_age_seconds", ())] == 4
    assert got[("syncd_sync_state", (("state", "synced"),))] == 1


def test_no_leader_an_expired_lease_or_an_unreachable_redis_is_no_leader() -> None:
    metrics = ServeMetrics()
    past = (NOW - timedelta(seconds=10)).isoformat()
    for beat in (
        {"leader": None, "heartbeat": None},
        {"leader": "h:1:x", "heartbeat": {"time": past, "lease_expires": past}},
        {"error": "Redis unreachable: refused"},
        {},
    ):
        got = _samples(metrics.render(_status(**beat), NOW))
        assert got[("syncd_beat_leader", ())] == 0, beat
        assert math.isnan(got[("syncd_beat_heartbeat_age_seconds", ())]), beat

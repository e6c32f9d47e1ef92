"""The beat's metrics object without a server: what a scrape would read, parsed with the
client library's own parser from `generate_latest`."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from celeryapp.beatcore import BeatCore, Run
from celeryapp.beatmetrics import LAG_BUCKETS, BeatMetrics
from celeryapp.dueplan import Entry, entry_from_row
from celeryapp.schedules import ScheduleType

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def _entry(name: str = "small", **overrides: Any) -> Entry:
    row: dict[str, Any] = {
        "name": name,
        "task": "celeryapp.tasks.echo",
        "type": ScheduleType.INTERVAL,
        "interval_every": 1,
        "interval_period": "seconds",
        "created_time": T0,
        "schedule_changed_time": T0,
        "enabled": True,
        **overrides,
    }
    return entry_from_row(row, default_timezone="UTC")


class Clock:
    def __init__(self) -> None:
        self.wall = T0.timestamp()
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class Beat:
    """What the scheduler hands the metrics: its leading flag and revision."""

    def __init__(self) -> None:
        self.leading = False
        self.revision: int | None = None


def _make(per_schedule: bool = True) -> tuple[BeatMetrics, Beat, Clock]:
    beat, clock = Beat(), Clock()
    metrics = BeatMetrics(
        leading=lambda: beat.leading,
        revision=lambda: beat.revision,
        per_schedule=per_schedule,
        clock=lambda: clock.wall,
        monotonic=lambda: clock.mono,
    )
    return metrics, beat, clock


def scrape(metrics: BeatMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: BeatMetrics, name: str, **labels: str) -> float:
    return scrape(metrics)[(name, tuple(sorted(labels.items())))]


def test_the_leader_flag_and_revision_follow_the_scheduler() -> None:
    metrics, beat, _ = _make()
    assert value(metrics, "syncd_beat_leader") == 0
    assert value(metrics, "syncd_revision") == 0
    beat.leading, beat.revision = True, 7
    assert value(metrics, "syncd_beat_leader") == 1
    assert value(metrics, "syncd_revision") == 7
    beat.leading = False  # lost the lock
    assert value(metrics, "syncd_beat_leader") == 0


def test_heartbeat_age_counts_from_the_last_renewal() -> None:
    metrics, _, clock = _make()
    assert math.isnan(value(metrics, "syncd_beat_heartbeat_age_seconds"))
    metrics.renewed()
    clock.advance(2.5)
    assert value(metrics, "syncd_beat_heartbeat_age_seconds") == 2.5
    metrics.renewed()
    assert value(metrics, "syncd_beat_heartbeat_age_seconds") == 0


def test_dispatches_are_counted_and_their_lag_observed() -> None:
    metrics, _, clock = _make()
    clock.advance(0.2)  # published 200 ms after T0
    metrics.dispatched([Run(_entry("a"), T0), Run(_entry("b"), T0 - 10 * S)])
    clock.advance(1)
    metrics.dispatched([Run(_entry("a"), T0 + S)])
    metrics.dispatched([])
    got = scrape(metrics)
    assert got[("syncd_dispatch_total", ())] == 3
    assert got[("syncd_dispatch_lag_seconds_count", ())] == 3
    assert math.isclose(got[("syncd_dispatch_lag_seconds_sum", ())], 10.6, abs_tol=1e-3)
    buckets = {dict(k[1])["le"]: v for k, v in got.items() if k[0].endswith("_bucket")}
    assert buckets["0.1"] == 0 and buckets["0.25"] == 2 and buckets["10.0"] == 2
    assert buckets["30.0"] == 3 and buckets["+Inf"] == 3
    assert len(buckets) == len(LAG_BUCKETS) + 1
    assert LAG_BUCKETS[0] == 0.01 and LAG_BUCKETS[-1] == 3600
    last = ("syncd_schedule_last_dispatch_timestamp_seconds", (("schedule", "a"),))
    assert math.isclose(got[last], T0.timestamp() + 1.2, abs_tol=1e-3)


def test_per_schedule_series_can_be_turned_off() -> None:
    metrics, _, _ = _make(per_schedule=False)
    metrics.dispatched([Run(_entry("a"), T0)])
    names = {name for name, _ in scrape(metrics)}
    assert "syncd_dispatch_total" in names
    assert not any(n.startswith("syncd_schedule_last_dispatch") for n in names)


def test_schedules_by_state_and_missed_runs_come_from_the_core() -> None:
    metrics, _, _ = _make()
    core = BeatCore(grace=3 * S, retry_delay=S)
    # `skip` finds its due time a minute late at the takeover: missed, not fired.
    entries = [_entry("a"), _entry("b"), _entry("late", catchup="skip", interval_every=60)]
    core.load(entries, T0 + 61 * S, {"b": None, "gone": None})
    metrics.tick(core, leading=True)
    got = scrape(metrics)
    assert got[("syncd_schedules", (("state", "active"),))] == 2
    assert got[("syncd_schedules", (("state", "paused"),))] == 1  # "gone" has no row
    assert got[("syncd_missed_runs_total", ())] == 1
    metrics.tick(core, leading=True)  # read from the core's counter, not added again
    assert value(metrics, "syncd_missed_runs_total") == 1
    core.clear()  # lost the lock: nothing loaded, the counter stays
    metrics.tick(core, leading=False)
    assert value(metrics, "syncd_schedules", state="active") == 0
    assert value(metrics, "syncd_missed_runs_total") == 1


def test_series_of_schedules_that_left_the_table_are_removed() -> None:
    metrics, _, clock = _make()
    core = BeatCore(grace=3 * S, retry_delay=S)
    core.load([_entry("a"), _entry("b")], T0)
    metrics.dispatched([Run(_entry("a"), T0), Run(_entry("b"), T0)])
    core.install("b", None, T0)
    clock.advance(61)
    metrics.tick(core, leading=True)
    series = {dict(k[1]).get("schedule") for k in scrape(metrics) if "last_dispatch" in k[0]}
    assert series == {"a"}

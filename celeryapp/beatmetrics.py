"""Prometheus metrics of the beat, with the official client on a registry of its own,
served on `SYNCD_BEAT_METRICS_PORT` (off by default) by a thread of the beat process.

The scheduler holds one `BeatMetrics` and calls it where things happen: `renewed` when it
holds the lock, `dispatched` with the runs each published chunk sent (the publisher's
`on_sent`), `tick` once a tick (schedule counts from the core, missed runs from
`BeatCore.missed`). Leadership and the revision are read from the scheduler when
scraped, so the leader flag flips the moment the scheduler's own flag does.

Cardinality: every series has a fixed label set except
`syncd_schedule_last_dispatch_timestamp_seconds{schedule}`, one series per schedule this
beat has dispatched while it leads (removed when the schedule leaves the table);
`SYNCD_BEAT_METRICS_PER_SCHEDULE=false` turns it off for very large tables.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from celeryapp.beatcore import BeatCore, Run

log = logging.getLogger("celeryapp.beat")

# publish time - due time: a healthy beat publishes within a tick (10 ms to 1 s); a stalled
# one, a broker outage or a takeover shows up in the tail, up to an hour.
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600)
STATES = ("active", "paused")
# How often series of schedules that left the table are removed (seconds).
PRUNE_EVERY = 60.0


class BeatMetrics:
    def __init__(
        self,
        *,
        leading: Callable[[], bool],
        revision: Callable[[], int | None],
        per_schedule: bool = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = r = CollectorRegistry()
        self._clock, self._monotonic = clock, monotonic
        self.leader = Gauge(
            "syncd_beat_leader", "1 while this beat holds the lock and dispatches", registry=r
        )
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)
        self.heartbeat_age = Gauge(
            "syncd_beat_heartbeat_age_seconds",
            "Seconds since this beat last held (renewed) the lock; NaN before the first time",
            registry=r,
        )
        self.heartbeat_age.set_function(self._age)
        self.revision = Gauge("syncd_revision", "The revision this beat holds", registry=r)
        self.revision.set_function(lambda: float(revision() or 0))
        self.schedules = Gauge(
            "syncd_schedules", "Schedules loaded by this beat, by state", ["state"], registry=r
        )
        for state in STATES:
            self.schedules.labels(state).set(0)
        self.dispatches = Counter("syncd_dispatch", "Runs published by this beat", registry=r)
        self.lag = Histogram(
            "syncd_dispatch_lag_seconds",
            "Publish time minus due time of each run published",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.missed = Counter(
            "syncd_missed_runs",
            "Due times judged missed and not fired (catchup), one per judgement",
            registry=r,
        )
        self.last_dispatch: Gauge | None = None
        if per_schedule:
            self.last_dispatch = Gauge(
                "syncd_schedule_last_dispatch_timestamp_seconds",
                "When this beat last published a run of the schedule (Unix time)",
                ["schedule"],
                registry=r,
            )
        self._renewed: float | None = None
        self._missed_seen = 0
        self._labelled: set[str] = set()
        self._last_prune = monotonic()

    def _age(self) -> float:
        renewed = self._renewed
        return math.nan if renewed is None else max(0.0, self._monotonic() - renewed)

    # --- where things happen -------------------------------------------------------------

    def renewed(self) -> None:
        """This beat holds the lock (acquired or renewed)."""
        self._renewed = self._monotonic()

    def dispatched(self, runs: Sequence[Run]) -> None:
        """`runs` were just published."""
        if not runs:
            return
        at = self._clock()
        self.dispatches.inc(len(runs))
        for run in runs:
            self.lag.observe(max(0.0, at - run.due.timestamp()))
        if self.last_dispatch is not None:
            for run in runs:
                self.last_dispatch.labels(run.name).set(at)
            self._labelled.update(run.name for run in runs)

    def tick(self, core: BeatCore, *, leading: bool) -> None:
        """Once a tick, from the core (no I/O): schedule counts and missed runs."""
        paused = sum(1 for name in core.paused if name in core.entries)
        self.schedules.labels("active").set(len(core.entries) - paused)
        self.schedules.labels("paused").set(paused)
        if core.missed > self._missed_seen:
            self.missed.inc(core.missed - self._missed_seen)
        self._missed_seen = core.missed
        if (
            leading
            and self.last_dispatch is not None
            and self._monotonic() - self._last_prune >= PRUNE_EVERY
        ):
            self._last_prune = self._monotonic()
            for name in self._labelled - core.entries.keys():
                self.last_dispatch.remove(name)
                self._labelled.discard(name)


def serve(metrics: BeatMetrics, address: str, port: int) -> Callable[[], None]:
    """Serve /metrics on address:port in a daemon thread; returns what stops it. A port
    that cannot be bound is logged and the beat runs on without metrics: metrics never
    stop dispatch."""
    try:
        server, _ = start_http_server(port, addr=address, registry=metrics.registry)
    except OSError as exc:
        log.error("cannot serve beat metrics on %s:%d: %s", address, port, exc.strerror or exc)
        return lambda: None
    log.info("serving beat metrics on http://%s:%d/metrics", address, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop

"""Prometheus metrics of `syncd serve` (GET /metrics on its listener), with the official
client on a registry of its own. Counters count what this replica did; gauges are read
from the shared status at scrape time, so every replica exports the same state: the
live revision, drift, and whether a beat leads and how old its heartbeat is (as
`syncd status` reads them). The beat's own metrics are celeryapp.beatmetrics."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from syncd import controller as decisions

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.applies = Counter(
            "syncd_apply", "Syncs of a commit by this replica, by result", ["result"], registry=r
        )
        self.heals = Counter(
            "syncd_self_heal", "Drift reverted by re-applying the live commit", registry=r
        )
        self.fetch_errors = Counter(
            "syncd_fetch_errors", "Fetches of the remote that failed", registry=r
        )
        self.webhooks = Counter(
            "syncd_webhook_requests",
            "Webhook requests, by kind and answer",
            ["kind", "status"],
            registry=r,
        )
        self.revision = Gauge("syncd_revision", "The revision holding the live rows", registry=r)
        self.state = Gauge(
            "syncd_sync_state",
            "1 for the current sync state, 0 for the others",
            ["state"],
            registry=r,
        )
        self.drift = Gauge("syncd_drifted_schedules", "Managed rows edited by hand", registry=r)
        self.beat_leader = Gauge(
            "syncd_beat_leader", "1 while a beat holds the lock (any beat), else 0", registry=r
        )
        self.heartbeat_age = Gauge(
            "syncd_beat_heartbeat_age_seconds",
            "Seconds since the leading beat's last heartbeat; NaN when there is none",
            registry=r,
        )
        self.deny = Gauge("syncd_deny_window_open", "1 while a deny window is open", registry=r)

    def render(self, status: dict[str, Any], now: datetime | None = None) -> bytes:
        from syncd.status import heartbeat_age, leads

        now = now or datetime.now(UTC)
        live = status.get("live") or {}
        self.revision.set(live.get("revision") or 0)
        for state in (decisions.SYNCED, decisions.OUT_OF_SYNC, decisions.FAILED):
            self.state.labels(state).set(1 if status.get("state") == state else 0)
        self.drift.set(len(status.get("drift") or []))
        self.deny.set(1 if (status.get("deny_window") or {}).get("open") else 0)
        beat = status.get("beat") or {}
        leading = leads(beat, now)
        age = heartbeat_age(beat, now) if leading else None
        self.beat_leader.set(1 if leading else 0)
        self.heartbeat_age.set(math.nan if age is None else age)
        return generate_latest(self.registry)

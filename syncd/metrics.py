"""Prometheus metrics of `syncd serve` (GET /metrics on its listener), with the official
client on a registry of its own. Counters count what this replica did; gauges are read
from the shared status at scrape time, so every replica exports the same state."""

from __future__ import annotations

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
        self.drift = Gauge("syncd_drift_schedules", "Managed rows edited by hand", registry=r)
        self.deny = Gauge("syncd_deny_window_open", "1 while a deny window is open", registry=r)

    def render(self, status: dict[str, Any]) -> bytes:
        live = status.get("live") or {}
        self.revision.set(live.get("revision") or 0)
        for state in (decisions.SYNCED, decisions.OUT_OF_SYNC, decisions.FAILED):
            self.state.labels(state).set(1 if status.get("state") == state else 0)
        self.drift.set(len(status.get("drift") or []))
        self.deny.set(1 if (status.get("deny_window") or {}).get("open") else 0)
        return generate_latest(self.registry)

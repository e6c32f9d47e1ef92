"""deploy/'s Grafana dashboard and Prometheus alert rules parse, and every metric their
expressions use is one the code exports (the beat's registry or `syncd serve`'s)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from celeryapp.beatmetrics import BeatMetrics
from syncd.metrics import ServeMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "syncd-dashboard.json"
ALERTS = REPO / "deploy" / "prometheus" / "syncd-alerts.yaml"
METRIC = re.compile(r"\bsyncd_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _names(registry: CollectorRegistry) -> set[str]:
    """The sample names a scrape of `registry` can hold (also of labelled families that
    have no child yet)."""
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def exported() -> set[str]:
    beat = BeatMetrics(leading=lambda: True, revision=lambda: 1)
    return _names(beat.registry) | _names(ServeMetrics().registry)


def _dashboard_exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _alert_rules() -> list[dict[str, Any]]:
    rules: dict[str, Any] = yaml.safe_load(ALERTS.read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_dashboard_uses_only_metrics_the_code_exports() -> None:
    exprs = _dashboard_exprs()
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used, "the dashboard has no syncd queries"
    assert used <= exported(), sorted(used - exported())
    for wanted in (
        "syncd_beat_leader",
        "syncd_beat_heartbeat_age_seconds",
        "syncd_dispatch_total",
        "syncd_dispatch_lag_seconds_bucket",
        "syncd_missed_runs_total",
        "syncd_apply_total",
        "syncd_drifted_schedules",
        "syncd_revision",
    ):
        assert wanted in used, wanted


def test_the_alert_rules_use_only_metrics_the_code_exports() -> None:
    rules = _alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    used = {name for rule in rules for name in METRIC.findall(rule["expr"])}
    assert used <= exported(), sorted(used - exported())
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert by_name["SyncdNoBeatLeader"]["for"] == "1m"
    assert set(by_name) >= {
        "SyncdNoBeatLeader",
        "SyncdBeatHeartbeatStale",
        "SyncdDispatchLagHigh",
        "SyncdMissedRuns",
        "SyncdApplyFailing",
        "SyncdDrift",
    }


def test_the_check_notices_a_misspelt_metric() -> None:
    assert "syncd_dispatch_totl" not in exported()
    assert "syncd_dispatch" not in exported()  # a counter is scraped as _total

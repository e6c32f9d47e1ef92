"""Scopes show in every output format of `plan`, `list`, `status` and `history`, through
the installed CLI (test_formats.py checks that each format is honoured; this that the
scope is in it): two repositories, scopes payments and ops, one SQLite table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.terminal import clean_env, piped

PAYMENTS = """version: 1
scope: payments
schedules:
  - name: pay-settle
    task: reports.send
    cron: "0 2 * * *"
"""
OPS = """version: 1
scope: ops
schedules:
  - name: ops-heartbeat
    task: reports.send
    every: 30s
"""
FORMATS = ("text", "json", "markdown", "github")


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scope-formats")
    for scope, text in (("payments", PAYMENTS), ("ops", OPS)):
        (folder / scope).mkdir()
        (folder / scope / "jobs.yaml").write_text(text)
        done = piped(folder, "apply", scope, env=clean_env(folder))
        assert done.returncode == 0, done.stderr
    # A pending change, so that the plan has a change to show beside its scope.
    (folder / "payments" / "jobs.yaml").write_text(PAYMENTS.replace("0 2", "0 3"))
    return folder


def _run(folder: Path, *args: str) -> str:
    done = piped(folder, *args, env=clean_env(folder))
    assert done.returncode in (0, 6), (done.returncode, done.stdout, done.stderr)  # 6: no beat
    return done.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_plan_names_its_scope(table: Path, fmt: str) -> None:
    out = _run(table, "plan", "payments", "--format", fmt)
    if fmt == "json":
        assert json.loads(out)["scope"] == "payments"
    else:
        assert "payments" in out and "ops" not in out, out


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_names_every_rows_scope(table: Path, fmt: str) -> None:
    out = _run(table, "list", "--format", fmt)
    if fmt == "json":
        assert {s["name"]: s["scope"] for s in json.loads(out)["schedules"]} == {
            "ops-heartbeat": "ops",
            "pay-settle": "payments",
        }
    else:
        assert "payments" in out and "ops" in out.replace("ops-heartbeat", ""), out


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_counts_per_scope(table: Path, fmt: str) -> None:
    out = _run(table, "status", "--format", fmt)
    if fmt == "json":
        status = json.loads(out)
        assert [s["scope"] for s in status["scopes"]] == ["ops", "payments"]
        assert status["last_apply"]["scope"] == "ops"
    else:
        assert "payments 1" in out and "ops 1" in out, out
        assert "scope ops" in out, out  # the last apply's


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_names_each_revisions_scope(table: Path, fmt: str) -> None:
    out = _run(table, "history", "--format", fmt)
    if fmt == "json":
        assert [r["scope"] for r in json.loads(out)["revisions"]] == ["ops", "payments"]
    else:
        assert "payments" in out and "ops" in out, out
    one = _run(table, "history", "1", "--format", fmt)
    if fmt == "json":
        assert json.loads(one)["revision"]["scope"] == "payments"
    else:
        assert "payments" in one, one

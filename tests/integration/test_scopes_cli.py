"""Two repositories, two scopes, one table, through the real CLI on SQLite and PostgreSQL:
neither apply touches the other's rows; a name owned by the other scope is an error that
names it and changes nothing; `list --scope` and `status` show the scopes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from syncd import store
from tests.integration.test_apply import SYNCD, dump

pytestmark = pytest.mark.integration

TEAM_A = """\
version: 1
scope: payments
schedules:
  - name: pay-settle
    task: celeryapp.tasks.echo
    cron: "0 2 * * *"
  - name: pay-report
    task: celeryapp.tasks.echo
    every: 1h
"""

# Team B's file names no scope: `--scope ops` puts it in scope ops. Same relative path.
TEAM_B = """\
version: 1
schedules:
  - name: ops-heartbeat
    task: celeryapp.tasks.echo
    every: 30s
"""


def syncd(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(SYNCD_DATABASE_URL=url, SYNCD_ACTOR="ci@test")
    return subprocess.run(
        [SYNCD, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def ok(done: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    return json.loads(done.stdout) if done.stdout.lstrip().startswith("{") else done.stdout


def rows(url: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in dump(url) if "task" in r}


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "team-a", tmp_path / "team-b"
    for repo, text in ((a, TEAM_A), (b, TEAM_B)):
        (repo / "schedules").mkdir(parents=True)
        (repo / "schedules" / "jobs.yaml").write_text(text)
    return a, b


def test_two_scopes_never_touch_each_others_rows(db_url: str, repos: tuple[Path, Path]) -> None:
    a, b = repos
    first = ok(syncd(a, db_url, "apply", "--format", "json"))
    assert first["scope"] == "payments" and first["summary"]["create"] == 2
    second = ok(syncd(b, db_url, "apply", "--scope", "ops", "--format", "json"))
    assert second["scope"] == "ops"
    assert second["summary"] == {"create": 1, "update": 0, "delete": 0, "unchanged": 0}
    table = rows(db_url)
    assert {n: r["scope"] for n, r in table.items()} == {
        "ops-heartbeat": "ops",
        "pay-report": "payments",
        "pay-settle": "payments",
    }
    # Each revision records its scope; the manifest keeps both jobs.yaml files apart.
    assert [r["scope"] for r in dump(db_url) if "changed_names" in r] == ["payments", "ops"]
    with store.connect(db_url) as conn:
        assert set(store.read_manifest(conn)) == {
            ("payments", "schedules/jobs.yaml"),
            ("ops", "schedules/jobs.yaml"),
        }
    # Both re-plan empty.
    assert ok(syncd(a, db_url, "plan", "--format", "json"))["changes"] == []
    assert ok(syncd(b, db_url, "plan", "--scope", "ops", "--format", "json"))["changes"] == []

    # A drops a schedule: only A's row goes; B's rows are as they were.
    (a / "schedules" / "jobs.yaml").write_text(TEAM_A.split("  - name: pay-report", maxsplit=1)[0])
    before_b = rows(db_url)["ops-heartbeat"]
    removed = ok(syncd(a, db_url, "apply", "--format", "json"))
    assert [(c["action"], c["name"]) for c in removed["changes"]] == [("delete", "pay-report")]
    assert rows(db_url)["ops-heartbeat"] == before_b
    assert ok(syncd(b, db_url, "plan", "--scope", "ops", "--format", "json"))["changes"] == []
    text = ok(syncd(a, db_url, "plan"))
    assert text.splitlines()[0] == "Scope: payments"

    # An apply of scope ops from an empty directory would delete only ops' rows: refused.
    (b / "empty").mkdir()
    refused = syncd(b, db_url, "apply", "--scope", "ops", "empty")
    assert refused.returncode == 5
    assert "every managed schedule of scope 'ops' (1)" in refused.stderr


def test_a_name_owned_by_another_scope_is_an_error_that_changes_nothing(
    db_url: str, repos: tuple[Path, Path]
) -> None:
    a, b = repos
    ok(syncd(a, db_url, "apply"))
    (b / "schedules" / "jobs.yaml").write_text(
        TEAM_B + "  - name: pay-settle\n    task: celeryapp.tasks.echo\n    every: 1m\n"
    )
    before = dump(db_url)
    done = syncd(b, db_url, "apply", "--scope", "ops")
    assert done.returncode == 1
    assert "schedules/jobs.yaml:6:5: error[ownership.other-scope]" in done.stdout + done.stderr
    assert "owned by scope 'payments'" in done.stdout + done.stderr
    assert dump(db_url) == before
    # --adopt does not take another scope's row either.
    assert syncd(b, db_url, "apply", "--scope", "ops", "--adopt").returncode == 1
    assert dump(db_url) == before
    # A file naming another scope than --scope: an error at its scope line.
    mismatch = syncd(a, db_url, "plan", "--scope", "ops")
    assert mismatch.returncode == 1
    assert "schedules/jobs.yaml:2:8: error[scope.mismatch]" in mismatch.stdout + mismatch.stderr


def test_list_and_status_show_the_scopes(db_url: str, repos: tuple[Path, Path]) -> None:
    a, b = repos
    ok(syncd(a, db_url, "apply"))
    ok(syncd(b, db_url, "apply", "--scope", "ops"))
    listed = ok(syncd(a, db_url, "list", "--scope", "ops", "--format", "json"))
    assert [(s["name"], s["scope"]) for s in listed["schedules"]] == [("ops-heartbeat", "ops")]
    text = ok(syncd(a, db_url, "list"))
    assert text.splitlines()[0].split()[:3] == ["NAME", "SCOPE", "STATE"]
    assert syncd(a, db_url, "list", "--scope", "Not A Scope").returncode == 64
    status = syncd(a, db_url, "status", "--format", "json")
    assert status.returncode == 6  # no beat leads here: unhealthy, reported all the same
    assert json.loads(status.stdout)["scopes"] == [
        {"scope": "ops", "managed": 1, "drift": 0},
        {"scope": "payments", "managed": 2, "drift": 0},
    ]
    assert json.loads(status.stdout)["last_apply"]["scope"] == "ops"
    assert "scopes:    ops 1, payments 2" in syncd(a, db_url, "status").stdout


def test_a_table_without_scopes_looks_as_before(db_url: str, repos: tuple[Path, Path]) -> None:
    _, b = repos
    plan = ok(syncd(b, db_url, "apply", "--format", "json"))
    assert "scope" not in plan
    assert "SCOPE" not in ok(syncd(b, db_url, "list"))
    assert "scopes:" not in syncd(b, db_url, "status").stdout
    assert {r["scope"] for r in rows(db_url).values()} == {None}


# A third repository in the default scope (no `scope:`, no --scope).
TEAM_C = """\
version: 1
schedules:
  - name: core-cleanup
    task: celeryapp.tasks.echo
    cron: "30 4 * * *"
"""


@pytest.fixture
def three(repos: tuple[Path, Path]) -> tuple[Path, Path, Path]:
    a, b = repos
    c = a.parent / "team-c"
    (c / "schedules").mkdir(parents=True)
    (c / "schedules" / "jobs.yaml").write_text(TEAM_C)
    return a, b, c


def _of(url: str, scope: str | None) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in rows(url).items() if r["scope"] == scope}


def _revision_scopes(url: str) -> list[tuple[str | None, str | None]]:
    return [(r["kind"], r["scope"]) for r in dump(url) if "changed_names" in r]


def test_a_rollback_touches_only_the_scope_of_its_revision(
    db_url: str, three: tuple[Path, Path, Path]
) -> None:
    a, b, c = three
    assert ok(syncd(a, db_url, "apply", "--format", "json"))["revision"] == 1  # payments
    ok(syncd(b, db_url, "apply", "--scope", "ops"))  # 2
    ok(syncd(c, db_url, "apply"))  # 3, the default scope
    # payments changes a schedule and drops one (4); ops and the default scope change too.
    (a / "schedules" / "jobs.yaml").write_text(
        TEAM_A.replace("0 2 * * *", "0 3 * * *").split("  - name: pay-report", maxsplit=1)[0]
    )
    ok(syncd(a, db_url, "apply"))  # 4
    (b / "schedules" / "jobs.yaml").write_text(
        TEAM_B.replace("30s", "1m")
        + "  - name: ops-extra\n    task: celeryapp.tasks.echo\n    every: 5m\n"
    )
    ok(syncd(b, db_url, "apply", "--scope", "ops"))  # 5
    (c / "schedules" / "jobs.yaml").write_text(TEAM_C.replace("30 4", "45 4"))
    ok(syncd(c, db_url, "apply"))  # 6
    ops_before, default_before = _of(db_url, "ops"), _of(db_url, None)

    # Back to revision 1 (payments): only payments' later revision (4) is undone.
    dry = ok(syncd(a, db_url, "rollback", "--to", "1", "--dry-run", "--format", "json"))
    assert dry["scope"] == "payments"
    done = ok(syncd(a, db_url, "rollback", "--to", "1", "--format", "json"))
    assert done["scope"] == "payments"
    assert [(c["action"], c["name"]) for c in done["changes"]] == [
        ("create", "pay-report"),
        ("update", "pay-settle"),
    ]
    assert _of(db_url, "ops") == ops_before
    assert _of(db_url, None) == default_before
    payments = _of(db_url, "payments")
    assert set(payments) == {"pay-report", "pay-settle"}  # re-created in its own scope
    assert payments["pay-settle"]["crontab"] == "0 2 * * *"
    assert _revision_scopes(db_url)[-1] == ("rollback", "payments")
    history = ok(syncd(a, db_url, "history", "--format", "json"))["revisions"]
    assert [(h["revision"], h["scope"]) for h in history[:2]] == [(7, "payments"), (6, None)]
    assert "payments" in ok(syncd(a, db_url, "history", "7"))

    # Back to revision 3 (the default scope): ops and payments stay as they are.
    ops_before, payments_before = _of(db_url, "ops"), _of(db_url, "payments")
    again = ok(syncd(c, db_url, "rollback", "--to", "3", "--format", "json"))
    assert "scope" not in again
    assert [(c["action"], c["name"]) for c in again["changes"]] == [("update", "core-cleanup")]
    assert _of(db_url, "ops") == ops_before and _of(db_url, "payments") == payments_before
    assert _of(db_url, None)["core-cleanup"]["crontab"] == "30 4 * * *"
    assert _revision_scopes(db_url)[-1] == ("rollback", None)


def test_a_rollback_refuses_a_name_another_scope_owns_now(
    db_url: str, repos: tuple[Path, Path]
) -> None:
    a, b = repos
    ok(syncd(a, db_url, "apply"))  # 1
    (a / "schedules" / "jobs.yaml").write_text(TEAM_A.split("  - name: pay-report", maxsplit=1)[0])
    ok(syncd(a, db_url, "apply"))  # 2: payments drops pay-report
    (b / "schedules" / "jobs.yaml").write_text(
        TEAM_B + "  - name: pay-report\n    task: celeryapp.tasks.echo\n    every: 2h\n"
    )
    ok(syncd(b, db_url, "apply", "--scope", "ops"))  # 3: ops takes the name
    before = dump(db_url)
    done = syncd(a, db_url, "rollback", "--to", "1")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "error[ownership.other-scope]" in done.stdout + done.stderr
    assert "'pay-report' is owned by scope 'ops'" in done.stdout + done.stderr
    assert dump(db_url) == before


def test_export_writes_one_folder_per_scope_that_applies_with_no_changes(
    db_url: str, three: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, b, c = three
    ok(syncd(a, db_url, "apply"))
    ok(syncd(b, db_url, "apply", "--scope", "ops"))
    ok(syncd(c, db_url, "apply"))
    out = tmp_path / "exported"
    ok(syncd(a, db_url, "export", "--out", str(out)))
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.yaml"))
    assert written == ["jobs.yaml", "ops/jobs.yaml", "payments/jobs.yaml"]
    assert "scope:" not in (out / "jobs.yaml").read_text()
    assert "\nscope: ops\n" in (out / "ops" / "jobs.yaml").read_text()
    assert "\nscope: payments\n" in (out / "payments" / "jobs.yaml").read_text()
    # Each folder (and the default scope's files) re-plans empty, without --scope.
    for target, scope in (("payments", "payments"), ("ops", "ops")):
        plan = ok(syncd(out, db_url, "plan", target, "--format", "json"))
        assert (plan["scope"], plan["changes"]) == (scope, [])
    assert ok(syncd(out, db_url, "plan", "jobs.yaml", "--format", "json"))["changes"] == []

    # To stdout, one document holds one scope: --scope picks it ('' the default scope).
    mixed = syncd(a, db_url, "export")
    assert mixed.returncode == 64, (mixed.stdout, mixed.stderr)
    assert "--scope" in mixed.stderr and "--out" in mixed.stderr
    one = syncd(a, db_url, "export", "--scope", "payments")
    assert one.returncode == 0, one.stderr
    assert "\nscope: payments\n" in one.stdout and "ops-heartbeat" not in one.stdout
    (tmp_path / "one.yaml").write_text(one.stdout)
    again = ok(syncd(tmp_path, db_url, "plan", "one.yaml", "--format", "json"))
    assert (again["scope"], again["changes"]) == ("payments", [])
    default = syncd(a, db_url, "export", "--scope", "", "--format", "json")
    assert default.returncode == 0, default.stderr
    assert "scope" not in json.loads(default.stdout)
    assert [s["name"] for s in json.loads(default.stdout)["schedules"]] == ["core-cleanup"]


def test_list_scope_empty_selects_the_default_scope(
    db_url: str, three: tuple[Path, Path, Path]
) -> None:
    a, b, c = three
    ok(syncd(a, db_url, "apply"))
    ok(syncd(b, db_url, "apply", "--scope", "ops"))
    ok(syncd(c, db_url, "apply"))
    listed = ok(syncd(a, db_url, "list", "--scope", "", "--format", "json"))
    assert [(s["name"], s["scope"]) for s in listed["schedules"]] == [("core-cleanup", None)]
    both = ok(syncd(a, db_url, "list", "--scope", "", "--scope", "ops", "--format", "json"))
    assert [s["name"] for s in both["schedules"]] == ["core-cleanup", "ops-heartbeat"]

"""The prune guards through the real CLI: exit 5, the refusal in every format, nothing
changed (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_apply import A, dump, run

pytestmark = pytest.mark.integration


def _schedules(url: str) -> list[str]:
    return sorted(r["name"] for r in dump(url) if "task" in r)


@pytest.fixture
def applied(db_url: str, tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(A)
    (tmp_path / "empty").mkdir()
    run("--database-url", db_url, "apply", cwd=tmp_path)
    return tmp_path


def test_apply_of_an_empty_directory_is_refused_and_deletes_nothing(
    db_url: str, applied: Path
) -> None:
    before = dump(db_url)
    out = run("--database-url", db_url, "apply", "empty", cwd=applied, check=5)
    assert "deletes every managed schedule (2)" in out.stderr
    assert "--allow-empty" in out.stdout and "Nothing was changed." in out.stdout
    assert dump(db_url) == before
    for fmt in ("json", "markdown", "github"):
        out = run("--database-url", db_url, "apply", "empty", "--format", fmt, cwd=applied, check=5)
        if fmt == "json":
            data = json.loads(out.stdout)
            assert [r["guard"] for r in data["refused"]] == ["allow-empty"]
            assert data["summary"]["delete"] == 2
        elif fmt == "markdown":
            assert "### syncd apply: refused, nothing was changed" in out.stdout
            assert "**Refused** (`allow-empty`)" in out.stdout
        else:
            assert out.stdout.startswith("::error title=syncd refused (allow-empty)::")
    assert dump(db_url) == before
    plan = run("--database-url", db_url, "plan", "empty", "--format", "json", cwd=applied, check=5)
    assert json.loads(plan.stdout)["refused"][0]["guard"] == "allow-empty"
    run("--database-url", db_url, "apply", "empty", "--allow-empty", cwd=applied, check=0)
    assert _schedules(db_url) == []


def test_max_delete(db_url: str, applied: Path) -> None:
    (applied / "one").mkdir()
    (applied / "one" / "a.yaml").write_text(A.split("  - name: heartbeat")[0])
    out = run("--database-url", db_url, "apply", "one", "--max-delete", "0", cwd=applied, check=5)
    assert "more than --max-delete 0" in out.stderr
    assert _schedules(db_url) == ["heartbeat", "nightly"]
    run("--database-url", db_url, "apply", "one", "--max-delete", "1", cwd=applied, check=0)
    assert _schedules(db_url) == ["nightly"]


def test_watch_reports_the_refusal_and_keeps_the_last_good_state(
    db_url: str, applied: Path
) -> None:
    out = run(
        "--database-url",
        db_url,
        "watch",
        "empty",
        "--max-applies",
        "1",
        "--format",
        "json",
        cwd=applied,
    )
    event = json.loads(out.stdout)
    assert event["status"] == "refused" and event["refused"][0]["guard"] == "allow-empty"
    assert _schedules(db_url) == ["heartbeat", "nightly"]

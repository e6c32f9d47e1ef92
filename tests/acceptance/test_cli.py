"""The installed `syncd` console script: exit codes and every output format, on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SYNCD = str(Path(sys.executable).with_name("syncd"))

GOOD = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    timezone: Europe/Berlin
"""

BAD = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 25 * * *"
"""


def run(
    tree: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # The caller's own Redis or step summary must not leak into these runs.
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("SYNCD_REDIS_URL", "GITHUB_STEP_SUMMARY")
    }
    full_env = {**inherited, "SYNCD_DATABASE_URL": f"sqlite:///{tree / 'db.sqlite'}", **(env or {})}
    return subprocess.run(
        [SYNCD, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=tree,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    return tmp_path


def test_help_lists_exit_codes_and_usage_errors_exit_64(tree: Path) -> None:
    helped = run(tree, "--help")
    assert helped.returncode == 0
    assert "64 usage error" in " ".join(helped.stdout.split())
    assert run(tree, "plan", "--no-such-option").returncode == 64
    assert run(tree, "no-such-command").returncode == 64


def test_invalid_file_text_json_and_github(tree: Path) -> None:
    (tree / "schedules" / "a.yaml").write_text(BAD)
    text = run(tree, "validate")
    assert text.returncode == 1
    assert "schedules/a.yaml:5:" in text.stderr and "error[" in text.stderr

    as_json = run(tree, "validate", "--format", "json")
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert body["valid"] is False
    first = body["errors"][0]
    assert (first["path"], first["line"]) == ("schedules/a.yaml", 5)

    summary = tree / "summary.md"
    github = run(tree, "validate", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert github.returncode == 1
    assert "::error file=schedules/a.yaml,line=5," in github.stdout + github.stderr
    assert summary.read_text().strip()


def test_plan_formats_detailed_exitcode_and_apply(tree: Path) -> None:
    pending = run(tree, "plan", "--detailed-exitcode")
    assert pending.returncode == 2, pending.stderr
    assert "nightly" in pending.stdout

    as_json = json.loads(run(tree, "plan", "--format", "json").stdout)
    assert set(as_json) == {"revision", "changes", "summary"}
    change = as_json["changes"][0]
    assert (change["action"], change["name"]) == ("create", "nightly")
    assert change["source"] == "schedules/a.yaml:3"
    assert change["fields"]["cron"] == {"old": None, "new": "0 2 * * *"}
    assert as_json["summary"]["create"] == 1

    markdown = run(tree, "plan", "--format", "markdown").stdout
    assert "|" in markdown and "nightly" in markdown

    applied = run(tree, "apply", "--format", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["revision"] == 1
    assert run(tree, "plan", "--detailed-exitcode").returncode == 0


def test_next_from_yaml_and_unknown_name(tree: Path) -> None:
    done = run(
        tree, "next", "nightly", "-n", "2", "--after", "2026-03-28T12:00:00Z", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    # 02:00 on 29 March does not exist in Berlin (clocks jump to 03:00).
    assert body["fire_times"][0].startswith("2026-03-29T03:00:00+02:00")
    assert len(body["fire_times"]) == 2

    unknown = run(tree, "next", "nightlyy")
    assert unknown.returncode == 1
    assert "nightly" in unknown.stderr

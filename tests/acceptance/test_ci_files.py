"""The workflow and the pre-commit hook run exactly the commands tested here."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.acceptance
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def syncd_steps() -> list[str]:
    workflow = yaml.safe_load((REPO / ".github/workflows/schedules.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    return [s["run"] for s in steps if str(s.get("run", "")).startswith("syncd ")]


def test_workflow_commands_run_in_a_pull_request_checkout(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "ci@example.com")
    git(tmp_path, "config", "user.name", "ci")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 30s\n"
    )
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "update-ref", "refs/remotes/origin/main", "HEAD")
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 45s\n"
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    summary = tmp_path / "summary.md"
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    steps = syncd_steps()
    assert len(steps) == 2
    for step in steps:
        command = step.replace("${{ github.base_ref }}", "main")
        done = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
    plan = (tmp_path / "plan.md").read_text()
    assert "`a`" in plan
    assert "every" in plan
    # an invalid edit fails the validate step with annotations and a job summary
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 0s\n"
    )
    done = subprocess.run(
        steps[0],
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "::error file=schedules/a.yaml,line=5,col=12,title=duration.too-short::" in done.stdout
    assert "duration.too-short" in summary.read_text()


def test_pre_commit_hook_command(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "syncd-validate"
    good = tmp_path / "schedules" / "good.yaml"
    good.parent.mkdir()
    good.write_text("version: 1\nschedules: []\n")
    bad = tmp_path / "schedules" / "bad.yaml"
    bad.write_text("version: 1\nschedules:\n  - name: X\n")
    argv = [str(BIN / shlex.split(hook["entry"])[0]), *shlex.split(hook["entry"])[1:]]
    ok = subprocess.run(
        [*argv, "schedules/good.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    fail = subprocess.run(
        [*argv, "schedules/good.yaml", "schedules/bad.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fail.returncode == 1
    assert "schedules/bad.yaml:3:" in fail.stderr

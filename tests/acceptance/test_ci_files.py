"""The workflows and the pre-commit hook run exactly the commands tested here, with the
package installed from the built wheel (tests/acceptance/installed.py), as CI installs it."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.acceptance.installed import REPO, Installed

pytestmark = pytest.mark.acceptance
MARKER = "<!-- syncd:plan -->"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / ".github/workflows" / name).read_text())
    return data


def run_steps(workflow_name: str, job: str) -> list[str]:
    """The shell steps of a job, less `pip install .` (the fixture installed the wheel)."""
    steps = workflow(workflow_name)["jobs"][job]["steps"]
    runs = [str(s["run"]) for s in steps if "run" in s]
    assert runs[0] == "pip install ."
    return runs[1:]


def step(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pull_request_checkout(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "ci")
    (root / "schedules").mkdir()
    (root / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 30s\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    return root


def test_pull_request_workflow_commands(installed: Installed, tmp_path: Path) -> None:
    repo = pull_request_checkout(tmp_path / "repo")
    (repo / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 45s\n"
    )
    summary = tmp_path / "summary.md"
    env = installed.env(GITHUB_STEP_SUMMARY=str(summary))
    steps = run_steps("schedules.yml", "plan")
    assert len(steps) == 2
    for command in steps:
        done = step(command.replace("${{ github.base_ref }}", "main"), repo, env)
        assert done.returncode == 0, (command, done.stderr)
    plan = (repo / "plan.md").read_text()
    assert plan.startswith(MARKER + "\n")  # how the comment step finds its own comment
    assert "`a`" in plan
    assert "every" in plan
    # an invalid edit fails the validate step with annotations and a job summary
    (repo / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 0s\n"
    )
    done = step(steps[0], repo, env)
    assert done.returncode == 1
    assert "::error file=schedules/a.yaml,line=5,col=12,title=duration.too-short::" in done.stdout
    assert "duration.too-short" in summary.read_text()


def test_the_comment_is_sticky_and_only_ever_our_own() -> None:
    steps = workflow("schedules.yml")["jobs"]["plan"]["steps"]
    (comment,) = [s for s in steps if s.get("uses", "").startswith("actions/github-script")]
    script = comment["with"]["script"]
    assert MARKER in script
    assert "github-actions[bot]" in script  # never another bot's (or a person's) comment
    assert "updateComment" in script and "createComment" in script


def test_apply_on_merge_workflow_commands(installed: Installed, tmp_path: Path) -> None:
    apply = workflow("apply.yml")
    assert apply[True]["push"]["branches"] == ["main"]  # PyYAML reads `on:` as True
    assert apply["concurrency"]["cancel-in-progress"] is False
    job = apply["jobs"]["apply"]
    assert job["env"]["SYNCD_GIT_COMMIT"] == "${{ github.sha }}"
    assert job["env"]["SYNCD_ACTOR"] == "${{ github.actor }}"
    repo = pull_request_checkout(tmp_path / "repo")
    database = tmp_path / "syncd.db"
    env = installed.env(
        SYNCD_DATABASE_URL=f"sqlite:///{database}",
        SYNCD_GIT_COMMIT="0123456789abcdef0123456789abcdef01234567",
        SYNCD_ACTOR="octocat",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
    )
    env.pop("SYNCD_REDIS_URL", None)
    for command in run_steps("apply.yml", "apply"):
        done = step(command, repo, env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    with sqlite3.connect(database) as conn:
        recorded = " ".join(map(str, conn.execute("SELECT * FROM syncd_revision").fetchall()))
    assert "octocat" in recorded
    assert "0123456789abcdef" in recorded


def test_pre_commit_hook_command(installed: Installed, tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "syncd-validate"
    # one run over the whole tree, never pre-commit's batches of changed files
    assert hook["pass_filenames"] is False
    assert hook["require_serial"] is True
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "good.yaml").write_text("version: 1\nschedules: []\n")
    argv = shlex.split(hook["entry"])
    env = installed.env()
    ok = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "schedules" / "bad.yaml").write_text("version: 1\nschedules:\n  - name: X\n")
    fail = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert fail.returncode == 1
    assert "schedules/bad.yaml:3:" in fail.stderr


HARNESS = """
const calls = [];
const comments = JSON.parse(process.argv[2]);
const github = {
  paginate: async (method, params) => comments,
  rest: { issues: {
    listComments: async () => comments,
    updateComment: async (p) => { calls.push(["update", p.comment_id, p.body]); },
    createComment: async (p) => { calls.push(["create", p.issue_number, p.body]); },
  } },
};
const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)));
"""


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        ([], ["create", 7]),
        # another bot's comment with our marker, a person's, our workflow's other comment
        (
            [
                {"id": 1, "user": {"login": "renovate[bot]"}, "body": MARKER + "\nx"},
                {"id": 2, "user": {"login": "octocat"}, "body": MARKER},
                {"id": 3, "user": {"login": "github-actions[bot]"}, "body": "other"},
            ],
            ["create", 7],
        ),
        (
            [
                {"id": 1, "user": {"login": "renovate[bot]"}, "body": MARKER},
                {"id": 42, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nold"},
            ],
            ["update", 42],
        ),
    ],
)
def test_the_comment_script_edits_its_own_comment_or_creates_one(
    tmp_path: Path, comments: list[dict[str, Any]], expected: list[Any]
) -> None:
    """The workflow's github-script body, run by node against a stand-in for the GitHub
    API client (the script is JavaScript; .ci/run installs node)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs it)")
    steps = workflow("schedules.yml")["jobs"]["plan"]["steps"]
    (comment,) = [s for s in steps if s.get("uses", "").startswith("actions/github-script")]
    (tmp_path / "plan.md").write_text(MARKER + "\n### syncd plan: 1 to update\n")
    (tmp_path / "harness.js").write_text(HARNESS.replace("SCRIPT", comment["with"]["script"]))
    done = subprocess.run(
        [node, "harness.js", json.dumps(comments)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (call,) = json.loads(done.stdout)
    assert call[:2] == expected
    assert call[2].startswith(MARKER)

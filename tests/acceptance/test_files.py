"""Which files a command reads: one discovery rule for the working tree and a git ref, and
never a blocking open of something that is not a regular file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.acceptance.test_cli import GOOD, run


def test_fifo_named_yaml_is_refused_not_opened(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    os.mkfifo(tmp_path / "schedules" / "pipe.yaml")
    os.mkfifo(tmp_path / "direct.yaml")
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    for args in (("validate",), ("validate", "direct.yaml"), ("plan",)):
        done = run(tmp_path, *args, "--format", "json")
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        errors = json.loads(done.stdout)["errors"]
        assert [e["code"] for e in errors] == ["file.not-regular"], errors
        assert (errors[0]["line"], errors[0]["column"]) == (1, 1)
        assert "not a regular file" in errors[0]["message"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_diff_base_skips_hidden_files_as_apply_does(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    hidden = GOOD.replace("nightly", "hidden")
    (tmp_path / "schedules" / ".draft.yaml").write_text(hidden)
    (tmp_path / "schedules" / ".wip").mkdir()
    (tmp_path / "schedules" / ".wip" / "b.yaml").write_text(hidden.replace("hidden", "wip"))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "base")
    validated = run(tmp_path, "validate")
    assert validated.returncode == 0 and "1 schedule valid." in validated.stdout
    done = run(tmp_path, "diff", "--base", "HEAD", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changes"] == []
    assert "hidden" not in done.stderr and "wip" not in done.stderr

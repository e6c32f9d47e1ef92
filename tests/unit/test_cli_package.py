"""The CLI package registers every command for both entry points: the console script
(`syncd.cli:main`) and `python -m syncd`."""

from __future__ import annotations

import subprocess
import sys

from syncd.cli import main

COMMANDS = {
    "apply",
    "backfill",
    "diff",
    "import",
    "list",
    "export",
    "history",
    "migrate",
    "next",
    "pause",
    "plan",
    "resume",
    "rollback",
    "schema",
    "serve",
    "show",
    "status",
    "trigger",
    "ui",
    "validate",
    "watch",
}


def test_the_group_has_every_command() -> None:
    assert set(main.commands) == COMMANDS


def test_python_dash_m_syncd_is_the_same_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: syncd ")
    block = done.stdout.split("Commands:\n")[1].split("\n\n")[0]
    listed = {line.split()[0] for line in block.splitlines()}
    assert listed == COMMANDS


def test_a_usage_error_exits_64_through_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "plan", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 64, done.stderr

"""The terminal, as a person meets it: read-only commands leave no trace, plans are coloured
on a terminal only, big plans are compact, long applies show progress."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.acceptance.terminal import ESCAPE, clean_env, on_tty, piped

GOOD = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    timezone: Europe/Berlin
  - name: hourly
    task: reports.hourly
    every: 1h
  - name: retired
    task: reports.old
    every: 1d
"""
# nightly updated, hourly unchanged, retired deleted, fresh created
EDITED = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 3 * * *"
    timezone: Europe/Berlin
  - name: hourly
    task: reports.hourly
    every: 1h
  - name: fresh
    task: reports.new
    every: 5m
"""
GREEN, YELLOW, RED = "\x1b[32m", "\x1b[33m", "\x1b[31m"


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


READ_ONLY = [
    (("validate",), 1, "schedules: no such file or directory"),
    (("plan",), 1, "schedules: no such file or directory"),
    (("diff", "--base", "HEAD"), 1, "schedules: no such file or directory"),
    (("next", "nightly"), 1, "schedules: no such file or directory"),
    (("next", "nightly", "--from-db"), 3, "no database at sqlite:///syncd.db"),
    (("status",), 3, "no database at sqlite:///syncd.db"),
    (("status", "--format", "json"), 3, "no database at sqlite:///syncd.db"),
    (("export",), 3, "no database at sqlite:///syncd.db"),
    (("export", "--format", "json"), 3, "no database at sqlite:///syncd.db"),
    (("list",), 3, "no database at sqlite:///syncd.db"),
    (("show", "nightly"), 3, "no database at sqlite:///syncd.db"),
    (("history",), 0, ""),
]


@pytest.mark.parametrize(("args", "code", "says"), READ_ONLY, ids=str)
def test_read_only_commands_leave_an_empty_directory_empty(
    tmp_path: Path, args: tuple[str, ...], code: int, says: str
) -> None:
    """The default database URL (sqlite:///syncd.db, relative): nothing may appear."""
    env = clean_env(tmp_path)
    del env["SYNCD_DATABASE_URL"]
    done = piped(tmp_path, *args, env=env)
    assert _listing(tmp_path) == [], (args, done.stderr)
    assert done.returncode == code, (args, done.stdout, done.stderr)
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "None" not in done.stdout


def test_read_only_commands_with_schedules_and_no_database(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    env = clean_env(tmp_path)
    before = _listing(tmp_path)
    for args in (("validate",), ("plan",), ("next", "nightly"), ("plan", "--format", "json")):
        done = piped(tmp_path, *args, env=env)
        assert done.returncode == 0, (args, done.stderr)
    assert _listing(tmp_path) == before
    plan = piped(tmp_path, "plan", env=env)
    assert "3 to create" in plan.stdout
    assert "no database at" in plan.stderr and "nothing was created" in plan.stderr
    assert piped(tmp_path, "validate", env=env).stdout == "3 schedules valid.\n"


def test_status_says_never_applied_not_none(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    assert piped(tmp_path, "migrate", env=env).returncode == 0
    done = piped(tmp_path, "status", env=env)
    assert done.returncode == 6, done.stderr  # no beat leads: unhealthy
    assert "revision:  none (never applied)" in done.stdout
    assert "health:    no beat leads" in done.stdout
    assert "None" not in done.stdout
    assert not (tmp_path / ".syncd-broker").exists()


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """A database at GOOD, and files at EDITED: one change of each action."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    assert piped(tmp_path, "apply", env=clean_env(tmp_path)).returncode == 0
    (tmp_path / "schedules" / "a.yaml").write_text(EDITED)
    return tmp_path


def test_plan_is_coloured_on_a_terminal_like_terraform(edited: Path) -> None:
    screen = on_tty(edited, "plan", env=clean_env(edited))
    assert screen.returncode == 0, screen.output
    out = screen.output
    assert f"{GREEN}\x1b[1m+ fresh" in out or f"\x1b[1m{GREEN}+ fresh" in out, out
    assert re.search(r"\x1b\[33m(\x1b\[1m)?~ nightly", out), out
    assert re.search(r"\x1b\[31m(\x1b\[1m)?- retired", out), out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "+ fresh" in plain and "~ nightly" in plain and "- retired" in plain
    assert '~ cron: "0 2 * * *" -> "0 3 * * *"' in plain


@pytest.mark.parametrize(
    ("how", "extra_env", "args"),
    [
        ("NO_COLOR=1", {"NO_COLOR": "1"}, ("plan",)),
        ("--no-color", {}, ("--no-color", "plan")),
        ("plan --no-color", {}, ("plan", "--no-color")),
        ("json", {}, ("plan", "--format", "json")),
        ("markdown", {}, ("plan", "--format", "markdown")),
        ("github", {}, ("plan", "--format", "github")),
    ],
)
def test_no_escape_code_on_a_terminal_when_asked_or_for_machines(
    edited: Path, how: str, extra_env: dict[str, str], args: tuple[str, ...]
) -> None:
    screen = on_tty(edited, *args, env=clean_env(edited, **extra_env))
    assert screen.returncode == 0, screen.output
    assert "fresh" in screen.output
    assert ESCAPE not in screen.output, (how, screen.output)


def test_no_escape_code_when_piped(edited: Path) -> None:
    done = piped(edited, "plan", env=clean_env(edited))
    assert done.returncode == 0
    assert "+ fresh" in done.stdout
    assert ESCAPE not in done.stdout + done.stderr


def test_errors_are_coloured_on_a_terminal_and_plain_otherwise(edited: Path) -> None:
    (edited / "schedules" / "a.yaml").write_text(GOOD.replace('"0 2 * * *"', '"0 25 * * *"'))
    screen = on_tty(edited, "validate", env=clean_env(edited))
    assert screen.returncode == 1
    assert f"{RED}" in screen.output and "error[" in screen.output
    quiet = on_tty(edited, "validate", env=clean_env(edited, NO_COLOR="1"))
    assert quiet.returncode == 1 and "error[" in quiet.output
    assert ESCAPE not in quiet.output


def _big(folder: Path, n: int) -> None:
    (folder / "schedules").mkdir()
    lines = ["version: 1", "schedules:"]
    for i in range(n):
        lines += [f"  - name: job-{i:05d}", "    task: reports.send", "    every: 1h"]
    (folder / "schedules" / "big.yaml").write_text("\n".join(lines) + "\n")


def test_a_10000_schedule_plan_fits_one_screen_and_one_comment(tmp_path: Path) -> None:
    _big(tmp_path, 10_000)
    env = clean_env(tmp_path)
    automatic = piped(tmp_path, "plan", env=env)
    assert automatic.returncode == 0, automatic.stderr
    lines = automatic.stdout.splitlines()
    assert len(lines) <= 40, len(lines)
    assert lines[0].startswith("10000 changes (over 100): compact plan;"), lines[0]
    assert "--no-compact" in lines[0] and "--format json" in lines[0]
    assert "+ 10000 to create:" in lines
    assert "  ... and 9992 more" in lines
    assert lines[-1] == "Plan: 10000 to create, 0 to update, 0 to delete, 0 unchanged."
    asked = piped(tmp_path, "plan", "--compact", env=env)
    assert len(asked.stdout.splitlines()) <= 40
    assert asked.stdout.startswith("compact plan;")
    markdown = piped(tmp_path, "plan", "--format", "markdown", env=env)
    assert markdown.returncode == 0
    assert len(markdown.stdout) < 65_536, len(markdown.stdout)
    assert "10000 to create" in markdown.stdout and "more" in markdown.stdout
    full = piped(tmp_path, "plan", "--no-compact", env=env)
    assert len(full.stdout.splitlines()) > 10_000 * 3


def test_a_long_apply_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    _big(tmp_path, 10_000)
    screen = on_tty(tmp_path, "apply", env=clean_env(tmp_path))
    assert screen.returncode == 0, screen.output[-2000:]
    assert "\r\x1b[Ksyncd: " in screen.output, screen.output[:2000]
    assert re.search(r"syncd: (reading|writing|migrating)[^\r]* \d+\.\ds", screen.output)
    assert "Applied: 10000 to create" in screen.output
    (tmp_path / "schedules" / "big.yaml").write_text("version: 1\nschedules: []\n")
    done = piped(tmp_path, "apply", "--allow-empty", env=clean_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "syncd: " not in done.stderr and ESCAPE not in done.stderr
    assert done.stdout.splitlines()[-1].startswith("Applied: 0 to create, 0 to update, 10000")

"""Every printing command x every output format, through the installed CLI: each format is
honoured (json parses, github is workflow commands only, markdown and text say something,
none carries an escape code) or refused with exit 64 and a message naming it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest

from syncd.cli import main
from tests.acceptance.terminal import ESCAPE, clean_env, piped

FORMATS = ("text", "json", "markdown", "github")
GOOD = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    timezone: Europe/Berlin
"""
# How each command that prints is run, and the exit codes it may end with. A new command
# with --format must be added here: the walk below fails until it is.
INVOCATIONS: dict[str, tuple[tuple[str, ...], set[int]]] = {
    "validate": ((), {0}),
    "plan": ((), {0}),
    "apply": ((), {0}),
    "diff": (("--base", "HEAD"), {0}),
    "next": (("nightly", "-n", "2", "--after", "2026-03-28T12:00:00Z"), {0}),
    "watch": (("--max-applies", "1"), {0}),
    "export": ((), {0}),
    "status": ((), {6}),
    "history": ((), {0}),
    # A dry run; 64 (no revision 1) when it runs before any apply of this module's tree.
    "rollback": (
        ("--to", "1", "--dry-run"),
        {0, 64},
    ),  # no beat leads in this test: unhealthy, reported in every format
    "import": (("--from", "crontab", "crontab", "--task", "reports.send"), {0}),
    # No worker runs here: the format must be accepted, and the failure is exit 3 (the
    # report it prints once a worker answers is tested in tests/unit/test_terminal.py).
    "trigger": (("nightly", "--ping-timeout", "0.2"), {3}),
    # A dry run: the embedded broker is not needed, the ledger is read.
    "backfill": (
        (
            "nightly",
            "--from",
            "2026-03-28T00:00:00Z",
            "--to",
            "2026-03-28T12:00:00Z",
            "--dry-run",
            "--beyond-retention",
        ),
        {0},
    ),
    "pause": (("nightly", "--reason", "formats test", "--until", "1h"), {0}),
    "resume": (("nightly",), {0}),
    "list": ((), {0}),
    "show": (("nightly",), {0}),
}
REFUSED = {
    ("export", "github"),
    ("import", "github"),
    ("watch", "markdown"),
    ("watch", "github"),
}


def _printing_commands() -> dict[str, click.Command]:
    return {
        name: command
        for name, command in main.commands.items()
        if any("--format" in p.opts for p in command.params if isinstance(p, click.Option))
    }


def test_every_printing_command_offers_every_format() -> None:
    commands = _printing_commands()
    assert set(commands) == set(INVOCATIONS), "add the new command to INVOCATIONS"
    for name, command in commands.items():
        option = next(p for p in command.params if "--format" in getattr(p, "opts", ()))
        assert isinstance(option.type, click.Choice)
        assert tuple(option.type.choices) == FORMATS, name


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    (folder / "schedules").mkdir()
    (folder / "schedules" / "a.yaml").write_text(GOOD)
    (folder / "crontab").write_text("0 2 * * * /usr/local/bin/report\n")  # for `import`
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "."], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=folder, check=True)
    (folder / "schedules" / "a.yaml").write_text(GOOD.replace("0 2", "0 3"))
    return folder


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("command", sorted(INVOCATIONS))
def test_command_format(tree: Path, command: str, fmt: str) -> None:
    args, codes = INVOCATIONS[command]
    done = piped(tree, command, *args, "--format", fmt, env=clean_env(tree))
    out, err = done.stdout, done.stderr
    assert ESCAPE not in out + err
    assert "Traceback" not in err
    if (command, fmt) in REFUSED:
        assert done.returncode == 64, (out, err)
        assert f"--format {fmt}" in err and not out
        return
    assert done.returncode in codes, (done.returncode, out, err)
    if done.returncode not in (0, 6):  # 6: status's report of an unhealthy deployment
        assert err.startswith("error: "), err
        return
    assert out.strip(), err
    if fmt == "json":
        for document in [out] if command != "watch" else out.splitlines():
            json.loads(document)
    elif fmt == "github":
        assert all(line.startswith("::") for line in out.splitlines() if line), out
    elif fmt == "markdown":
        assert out.lstrip().startswith(("###", "-", "|")), out

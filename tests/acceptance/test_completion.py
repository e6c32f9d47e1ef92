"""Shell completion through click's `_SYNCD_COMPLETE`, as the documented bash, zsh and
fish set-ups call it: commands, options, and schedule names read from the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.terminal import clean_env, piped

FILES = """version: 1
schedules:
  - {name: nightly-report, task: t.a, cron: "0 2 * * *"}
  - {name: nightly-cleanup, task: t.b, every: 1h}
  - {name: heartbeat, task: t.c, every: 30s}
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(FILES)
    # An invalid file still completes its names (completion never validates).
    (tmp_path / "schedules" / "b.yaml").write_text(
        'version: 1\nschedules:\n  - {name: broken-one, task: t.d, cron: "0 99 * * *"}\n'
    )
    return tmp_path


def _complete(tree: Path, shell: str, words: str, cword: str) -> list[str]:
    env = clean_env(tree, _SYNCD_COMPLETE=f"{shell}_complete", COMP_WORDS=words, COMP_CWORD=cword)
    done = piped(tree, env=env)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize("command", ["next", "trigger"])
def test_bash_completes_schedule_names_from_the_files(tree: Path, command: str) -> None:
    assert _complete(tree, "bash", f"syncd {command} nightly", "2") == [
        "plain,nightly-cleanup",
        "plain,nightly-report",
    ]
    everything = _complete(tree, "bash", f"syncd {command} ", "2")
    assert "plain,heartbeat" in everything and "plain,broken-one" in everything


def test_zsh_and_fish_complete_names_and_commands(tree: Path) -> None:
    zsh = _complete(tree, "zsh", "syncd next heart", "2")
    assert zsh[:2] == ["plain", "heartbeat"]
    fish = _complete(tree, "fish", "syncd next heart", "heart")
    assert fish == ["plain,heartbeat"]
    commands = _complete(tree, "bash", "syncd pl", "1")
    assert commands == ["plain,plan"]


def test_no_schedules_folder_completes_nothing_and_fails_nothing(tmp_path: Path) -> None:
    assert _complete(tmp_path, "bash", "syncd next ", "2") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_source_scripts_exist(tmp_path: Path, shell: str) -> None:
    done = piped(tmp_path, env=clean_env(tmp_path, _SYNCD_COMPLETE=f"{shell}_source"))
    assert done.returncode == 0 and "_SYNCD_COMPLETE" in done.stdout
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert f"_SYNCD_COMPLETE={shell}_source" in doc

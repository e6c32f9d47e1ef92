"""A bad setting stops every process at start-up with exit 64 and the variable's name:
the CLI (before any command runs) and the celery beat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_cli import GOOD, run

CELERY = str(Path(sys.executable).with_name("celery"))
BAD = [
    ("SYNCD_TIMEZONE", "Europe/Berln"),
    ("SYNCD_TABLE_NAME", "t" * 64),
    ("SYNCD_BEAT_LOCK_TTL", "3s"),
    ("SYNCD_RESULT_EXPIRES", "-5"),
]


@pytest.mark.parametrize(("key", "raw"), BAD)
def test_cli_exits_64_naming_the_variable(tmp_path: Path, key: str, raw: str) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    for command in (["validate"], ["plan"], ["apply"]):
        done = run(tmp_path, *command, env={key: raw})
        assert done.returncode == 64, (command, done.stdout, done.stderr)
        assert key in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "db.sqlite").exists()  # nothing ran


def test_database_url_option_is_named_when_given_on_the_command_line(tmp_path: Path) -> None:
    done = run(tmp_path, "--database-url", "postgresql://u:p@w@h/db", "validate")
    assert done.returncode == 64 and "--database-url" in done.stderr and "w@h" not in done.stderr


@pytest.mark.parametrize(
    ("key", "raw"), [*BAD[:2], ("SYNCD_BEAT_SHARDS", "0"), ("SYNCD_BEAT_SHARDS", "4")]
)
def test_beat_refuses_to_start(tmp_path: Path, key: str, raw: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))} | {
        key: raw,
        "SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    done = subprocess.run(
        [CELERY, "-A", "celeryapp.app", "beat", "--loglevel", "INFO"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 64, (done.stdout, done.stderr[-3000:])
    assert f"error: {key}=" in done.stderr and "Traceback" not in done.stderr

"""What the wheel needs at run time is package data, and nothing finds it through the
source tree (tests/acceptance/test_installed_wheel.py proves it from an installed wheel)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from syncd import __version__, _schema_fast, schema
from syncd.schema import schema_bytes

REPO = Path(__file__).resolve().parents[2]


def test_editor_copy_of_the_schema_is_the_packaged_one() -> None:
    top = (REPO / "schemas" / "schedule.schema.json").read_bytes()
    assert top == schema_bytes(), (
        "schemas/schedule.schema.json differs from the packaged schema; "
        "run: cp syncd/schemas/schedule.schema.json schemas/"
    )


def test_no_run_time_code_resolves_paths_from_its_own_file() -> None:
    # demo.py is the checkout's `make demo` (it starts the repository's own schedules).
    allowed = {"syncd/demo.py"}
    pattern = re.compile(r"__file__|\.parents?\b")
    for package in ("syncd", "celeryapp"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel in allowed:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                assert not pattern.search(line), f"{rel}:{number}: {line.strip()}"


def test_version_is_written_once() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_the_shipped_schema_checker_is_generated_from_the_current_schema() -> None:
    assert schema.schema_digest() == _schema_fast.SCHEMA_SHA256, (
        "the schema changed: run python -m syncd.schemacode > syncd/_schema_fast.py"
    )
    assert schema._fast() is _schema_fast.validate  # so validate never compiles it

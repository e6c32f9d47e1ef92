"""`validate` and `diff` run on every commit (pre-commit) and every pull request: they must
not import a database driver, the ORM, celery or (for valid files) jsonschema. Asserted on
the import graph of a fresh interpreter, never on a time (bench/cli_startup.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlalchemy", "celery", "kombu", "psycopg", "redis", "alembic", "gevent", "flower")

_PROBE = """
import json, sys
from syncd.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    """The exit code of `syncd ARGV` and the top-level packages it imported."""
    code, modules = loaded_in_full(tmp_path, *argv)
    return code, {m.split(".")[0] for m in modules}


def loaded_in_full(tmp_path: Path, *argv: str) -> tuple[int, set[str]]:
    """The exit code of `syncd ARGV` and every module it imported, by dotted name."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def write_schedules(root: Path, every: str = "30s") -> None:
    (root / "schedules").mkdir(exist_ok=True)
    (root / "schedules" / "a.yaml").write_text(
        f"version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: {every}\n"
    )


def test_validate_of_a_valid_file_imports_nothing_heavy(tmp_path: Path) -> None:
    write_schedules(tmp_path)
    code, modules = loaded(tmp_path, "validate", "schedules")
    assert code == 0
    assert modules.isdisjoint((*HEAVY, "jsonschema")), sorted(modules & {*HEAVY, "jsonschema"})


def test_validate_of_an_invalid_file_loads_jsonschema_only_then(tmp_path: Path) -> None:
    write_schedules(tmp_path, every="0s")
    (tmp_path / "schedules" / "b.yaml").write_text("version: 1\nschedules:\n  - name: B\n")
    code, modules = loaded(tmp_path, "validate", "schedules")
    assert code == 1
    assert "jsonschema" in modules  # it places the schema errors
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_diff_imports_nothing_heavy(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "ci@example.com")
    git("config", "user.name", "ci")
    write_schedules(tmp_path)
    git("add", "-A")
    git("commit", "-qm", "base")
    write_schedules(tmp_path, every="45s")
    code, modules = loaded(tmp_path, "diff", "--base", "main", "--format", "json", "schedules")
    assert code == 0
    assert modules.isdisjoint((*HEAVY, "jsonschema")), sorted(modules & {*HEAVY, "jsonschema"})


def test_help_and_schema_import_nothing_heavy(tmp_path: Path) -> None:
    for argv in (["--help"], ["schema"]):
        code, modules = loaded(tmp_path, *argv)
        assert code == 0
        assert modules.isdisjoint((*HEAVY, "jsonschema")), (argv, modules & {*HEAVY, "jsonschema"})


# The work modules behind `backfill`, `trigger` and `list`; their --help defaults live in
# syncd.defaults so that start-up imports none of them. (`validate` does load the beat's
# due-time module: its cron rule is the beat's own cron code, so help alone goes without it.)
WORK_MODULES = ("syncd.backfill", "syncd.trigger", "syncd.listing")


def test_help_and_validate_import_no_command_work_module(tmp_path: Path) -> None:
    write_schedules(tmp_path)
    for argv, banned in (
        (["--help"], (*WORK_MODULES, "celeryapp.dueplan")),
        (["validate", "schedules"], WORK_MODULES),
    ):
        code, modules = loaded_in_full(tmp_path, *argv)
        assert code == 0
        assert modules.isdisjoint(banned), (argv, sorted(modules & set(banned)))


# That the pure modules (beatcore, dueplan, loader, validate, ...) import no I/O module at
# all is an import contract (pyproject.toml), checked by tests/unit/test_import_contracts.py.


def test_pure_modules_import_neither_io_nor_the_models() -> None:
    """The codec and everything derived from it stay pure: `celeryapp.models` reads the
    environment when imported (the table name), so none of them may import it."""
    pure = (
        "celeryapp.codec",
        "celeryapp.schedules",
        "celeryapp.dueplan",
        "celeryapp.beatcore",
        "celeryapp.tasklog",
        "syncd.spec",
        "syncd.rules",
        "syncd.plan",
        "syncd.nextrun",
    )
    probe = (
        f"import json, sys, importlib; [importlib.import_module(m) for m in {pure!r}]; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    assert "celeryapp.models" not in modules
    assert "celeryapp.settings" not in modules  # no environment read at import
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)

"""The import contracts in pyproject.toml (`make lint` runs lint-imports) hold, and each one
breaks when a forbidden import is added: checked on a copy of the packages with one line
added, so a contract that cannot fail (a typo in a module name, a wrong type) fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_the_packages(tmp_path: Path) -> Path:
    for package in ("syncd", "celeryapp"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "chain"),
    [
        # Indirect: validate -> rules -> store, which talks SQL.
        (
            "syncd/rules.py",
            "import syncd.store",
            "Pure modules import no I/O module",
            "syncd.rules -> syncd.store",
        ),
        (
            "celeryapp/dueplan.py",
            "import redis",
            "Pure modules import no I/O module",
            "celeryapp.dueplan -> redis",
        ),
        (
            "syncd/plan.py",
            "import subprocess",
            "Pure modules import no I/O module",
            "syncd.plan -> subprocess",
        ),
        (
            "celeryapp/beatcore.py",
            "from syncd import errors",
            "The run side (celeryapp) never imports the sync side (syncd)",
            "celeryapp.beatcore -> syncd.errors",
        ),
        (
            "syncd/render.py",
            "import click",
            "Only the CLI package imports click",
            "syncd.render -> click",
        ),
        # The cycle there was: the trigger command's body imported syncd.cli.run.
        (
            "syncd/trigger.py",
            "from syncd.cli.group import run",
            "The CLI is the edge: nothing but python -m syncd imports it",
            "syncd.trigger -> syncd.cli.group",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str, chain: str
) -> None:
    root = copy_of_the_packages(tmp_path)
    target = root / module
    target.write_text(target.read_text() + f"\n{line}  # a forbidden import\n")
    done = lint_imports(root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract} BROKEN" in done.stdout, done.stdout
    assert chain in done.stdout, done.stdout
    assert "1 broken" in done.stdout, done.stdout

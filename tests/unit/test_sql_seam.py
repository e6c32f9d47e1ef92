"""One SQL seam per side, read from the source (no services needed).

* sync side: only the `syncd.store` package imports SQLAlchemy, psycopg or Alembic;
* run side: only `celeryapp.runstore` runs statements; the table definitions
  (`models`), the migrations and two modules that name exception classes may import a
  driver too, and anything may name a SQLAlchemy type under TYPE_CHECKING;
* nowhere is a statement built by formatting a string (f-string, `%` or `+`), except
  the one SQLite PRAGMA listed below, which takes no bound parameter.

Each rule fails when a forbidden import or statement is added (see the tests at the end).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ("sqlalchemy", "psycopg", "alembic")
# Beside runstore: the table definitions, the retry policy and the diagnostics task (both
# name driver exception classes only: the task raises psycopg's to simulate a restart).
RUN_SIDE_ALLOWED = {
    "celeryapp/runstore.py",
    "celeryapp/models.py",
    "celeryapp/retry.py",
    "celeryapp/tasks/diagnostics.py",
}
# file -> the statement prefix that is built from an int we computed (SQLite's PRAGMA
# takes no parameter).
FORMATTED_ALLOWED = {"syncd/store/transaction.py": "PRAGMA busy_timeout = "}
# Beside the store on the sync side: `syncd import` reading other schedulers' databases
# (django-celery-beat, fba), read-only; syncd's own tables are the store's alone.
SYNC_SIDE_ALLOWED = {"syncd/importers/read.py"}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def driver_imports(source: str) -> list[str]:
    """The SQL driver modules a module imports at run time (TYPE_CHECKING excluded)."""
    tree = ast.parse(source)
    skip = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if node.lineno in skip:
            continue
        found.extend(n for n in names if n.split(".")[0] in DRIVERS)
    return found


def formatted_statements(source: str) -> list[str]:
    """Calls of text()/exec_driver_sql()/execute()/copy() whose statement is a formatted
    string."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in {"text", "exec_driver_sql", "execute", "copy"}:
            continue
        arg = node.args[0]
        if isinstance(arg, ast.JoinedStr) or (
            isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod | ast.Add)
        ):
            found.append(ast.unparse(arg))
    return found


def _sources(package: str) -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in sorted((ROOT / package).rglob("*.py"))
    }


def test_only_the_store_imports_sql_on_the_sync_side() -> None:
    offenders = {
        path: imports
        for path, source in _sources("syncd").items()
        if not path.startswith("syncd/store/")
        and path not in SYNC_SIDE_ALLOWED
        and (imports := driver_imports(source))
    }
    assert offenders == {}


def test_only_runstore_talks_sql_on_the_run_side() -> None:
    offenders = {
        path: imports
        for path, source in _sources("celeryapp").items()
        if not path.startswith("celeryapp/migrations/")
        and path not in RUN_SIDE_ALLOWED
        and (imports := driver_imports(source))
    }
    assert offenders == {}


def test_no_statement_is_built_by_formatting_a_string() -> None:
    offenders = {}
    for package in ("syncd", "celeryapp"):
        for path, source in _sources(package).items():
            allowed = FORMATTED_ALLOWED.get(path)
            found = [s for s in formatted_statements(source) if not (allowed and allowed in s)]
            if found:
                offenders[path] = found
    assert offenders == {}


# --- the rules catch what they are for -----------------------------------------------------


def test_a_forbidden_import_is_caught() -> None:
    assert driver_imports("from sqlalchemy import select\n") == ["sqlalchemy"]
    assert driver_imports("import psycopg.sql\n") == ["psycopg.sql"]
    assert driver_imports("def f():\n    from sqlalchemy.exc import SQLAlchemyError\n")
    hidden = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sqlalchemy import Engine\n"
    )
    assert driver_imports(hidden) == []


def test_a_formatted_statement_is_caught() -> None:
    assert formatted_statements('conn.exec_driver_sql(f"UPDATE {t} SET x = 1")\n')
    assert formatted_statements('conn.execute(text("DELETE FROM %s" % t))\n')
    assert formatted_statements('conn.execute("SELECT " + column)\n')
    assert formatted_statements('conn.execute(text("SELECT 1"))\n') == []

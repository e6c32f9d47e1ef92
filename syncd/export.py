"""`syncd export`: the table's schedules as YAML that re-applies with no changes.

Managed rows go back to the file their `source` names; rows made by other means go to
`adopted.yaml`, to be taken over with `syncd apply --adopt`. A file holds one scope, as an
apply does: rows of scope X are written with `scope: X` into the folder `X/` (the default
scope's rows, and rows made by other means, where they were before scopes), so each
folder re-applies with no changes (docs/sync.md "Scopes").

The modeline (`# yaml-language-server: $schema=...`) must work wherever the file lands:
a file written into a project tree points at that tree's `schemas/schedule.schema.json`
by a path relative to itself (so it still works after a clone elsewhere); a file whose
destination is unknown (stdout) or outside any project gets no path at all, only a
comment naming the file patterns editors are set up to match (docs/editors.md).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import yaml

from syncd.plan import Row
from syncd.spec import schedule_from_row, set_fields

PROJECT_SCHEMA = PurePath("schemas", "schedule.schema.json")
NO_MODELINE = (
    "# Schema: `syncd schema`. Editors match schedules/**/*.yaml and *.schedules.yaml "
    "(docs/editors.md).\n"
)
ADOPTED = "adopted.yaml"
FORMATS = ("text", "json", "markdown")  # github annotates files; an export has none


def modeline(destination: Path | None) -> str:
    """The first line of an exported file written into the folder `destination`."""
    if destination is None:
        return NO_MODELINE
    here = folder = destination.resolve()
    while True:  # up the destination's own folders (not this module's: see test_packaging)
        schema = folder / PROJECT_SCHEMA
        if schema.is_file():
            relative = Path(os.path.relpath(schema, here)).as_posix()
            return f"# yaml-language-server: $schema={relative}\n"
        above = Path(os.path.dirname(folder))
        if above == folder:
            return NO_MODELINE
        folder = above


def scope_of(row: Row) -> str | None:
    """The scope a row is exported in: its own if managed; a row made by other means has
    none (it is adopted by whichever scope applies it with --adopt)."""
    return row.scope if row.managed else None


def scopes(rows: Sequence[Row]) -> list[str | None]:
    """The scopes of `rows`, the default scope (None) first."""
    return sorted({scope_of(r) for r in rows}, key=lambda s: (s is not None, s or ""))


def file_for(row: Row) -> str:
    """The file a row goes to, relative to the export folder (`SCOPE/` for a scope's)."""
    if not row.managed or not row.source:
        name = ADOPTED
    else:
        name = PurePath(row.source.rpartition(":")[0]).name or ADOPTED
    scope = scope_of(row)
    return name if scope is None else f"{scope}/{name}"


def data(rows: Sequence[Row], scope: str | None = None) -> dict[str, Any]:
    """The schedules file, as the value YAML and JSON both write (with `scope` when set)."""
    items: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r.name):
        schedule = schedule_from_row(row.columns)
        items.append({"name": schedule.name, **set_fields(schedule)})
    return {"version": 1, **({"scope": scope} if scope is not None else {}), "schedules": items}


def document(rows: Sequence[Row], header: str = NO_MODELINE, scope: str | None = None) -> str:
    body = yaml.safe_dump(
        data(rows, scope),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return header + body


def render(rows: Sequence[Row], fmt: str, scope: str | None = None) -> str:
    """One document to stdout, of one scope: YAML (text), JSON (also valid YAML, so it
    applies as it stands), or a markdown section with the YAML fenced."""
    if fmt == "json":
        return json.dumps(data(rows, scope), ensure_ascii=False, indent=2) + "\n"
    text = document(rows, scope=scope)
    if fmt == "markdown":
        n = len(rows)
        return f"### syncd export: {n} schedule{'s' * (n != 1)}\n\n```yaml\n{text}```\n"
    return text


def export(
    rows: Sequence[Row], header: Callable[[str | None], str] = lambda _scope: NO_MODELINE
) -> Mapping[str, str]:
    """Relative file path (`NAME`, or `SCOPE/NAME`) -> YAML text; `header(scope)` is the
    first line of a file of that scope's folder (the modeline, relative to the folder)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[file_for(row)].append(row)
    return {
        name: document(group, header(scope_of(group[0])), scope_of(group[0]))
        for name, group in sorted(groups.items())
    }

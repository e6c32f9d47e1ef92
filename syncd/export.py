"""`syncd export`: the table's schedules as YAML that re-applies with no changes.

Managed rows go back to the file their `source` names; rows made by other means go to
`adopted.yaml`, to be taken over with `syncd apply --adopt`.

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
from collections.abc import Mapping, Sequence
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


def file_for(row: Row) -> str:
    if not row.managed or not row.source:
        return ADOPTED
    return PurePath(row.source.rpartition(":")[0]).name or ADOPTED


def data(rows: Sequence[Row]) -> dict[str, Any]:
    """The schedules file, as the value YAML and JSON both write."""
    items: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r.name):
        schedule = schedule_from_row(row.columns)
        items.append({"name": schedule.name, **set_fields(schedule)})
    return {"version": 1, "schedules": items}


def document(rows: Sequence[Row], header: str = NO_MODELINE) -> str:
    body = yaml.safe_dump(
        data(rows),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return header + body


def render(rows: Sequence[Row], fmt: str) -> str:
    """One document to stdout: YAML (text), JSON (also valid YAML, so it applies as it
    stands), or a markdown section with the YAML fenced."""
    if fmt == "json":
        return json.dumps(data(rows), ensure_ascii=False, indent=2) + "\n"
    text = document(rows)
    if fmt == "markdown":
        n = len(rows)
        return f"### syncd export: {n} schedule{'s' * (n != 1)}\n\n```yaml\n{text}```\n"
    return text


def export(rows: Sequence[Row], header: str = NO_MODELINE) -> Mapping[str, str]:
    """File name -> YAML text."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[file_for(row)].append(row)
    return {name: document(group, header) for name, group in sorted(groups.items())}

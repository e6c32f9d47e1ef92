"""`syncd export`: the table's schedules as YAML that re-applies with no changes.

Managed rows go back to the file their `source` names; rows made by other means go to
`adopted.yaml`, to be taken over with `syncd apply --adopt`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import yaml

from syncd.plan import Row
from syncd.spec import schedule_from_row, set_fields

HEADER = "# yaml-language-server: $schema=../schemas/schedule.schema.json\n"
ADOPTED = "adopted.yaml"


def file_for(row: Row) -> str:
    if not row.managed or not row.source:
        return ADOPTED
    return PurePath(row.source.rpartition(":")[0]).name or ADOPTED


def document(rows: Sequence[Row]) -> str:
    items: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: r.name):
        schedule = schedule_from_row(row.columns)
        items.append({"name": schedule.name, **set_fields(schedule)})
    body = yaml.safe_dump(
        {"version": 1, "schedules": items},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return HEADER + body


def export(rows: Sequence[Row]) -> Mapping[str, str]:
    """File name -> YAML text."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[file_for(row)].append(row)
    return {name: document(group) for name, group in sorted(groups.items())}

"""What every importer produces, and the one pipeline that makes it valid syncd input.

A `Candidate` is one source entry translated into YAML fields, with the notes on what
behaves differently under syncd. `finish` gives each a valid, unique name and runs syncd's
own validator over it, so a file the importer writes is a file `syncd validate` accepts:
an entry the validator refuses is skipped with the validator's message, never written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from syncd.importers.names import assign_names
from syncd.sources import SourceFile
from syncd.validate import validate_file

SKIPPED = "skipped"  # not imported at all
DIFFERENCE = "difference"  # imported; fires differently from the source, or loses a field
RENAMED = "renamed"  # imported under another name (the source's is not a valid syncd name)


@dataclass(frozen=True)
class Note:
    """One thing the user must know about one source entry."""

    origin: str  # the entry as the source names it (a name, a key, `line 12`)
    kind: str  # SKIPPED | DIFFERENCE | RENAMED
    message: str

    def as_json(self) -> dict[str, str]:
        return {"entry": self.origin, "kind": self.kind, "message": self.message}


@dataclass
class Candidate:
    """One source entry as YAML fields (`name` is the wanted name, made valid later)."""

    origin: str
    fields: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Imported:
    """The result of one import: the schedules file's content and every note."""

    source: str  # the kind: django-celery-beat, redbeat, fba, crontab
    defaults: dict[str, Any]
    schedules: list[dict[str, Any]]
    comments: dict[str, list[str]]  # schedule name -> notes written above it
    notes: list[Note]

    @property
    def skipped(self) -> list[Note]:
        return [n for n in self.notes if n.kind == SKIPPED]


def skip(origin: str, message: str) -> Note:
    return Note(origin, SKIPPED, message)


def _check(item: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """syncd's own verdict on one schedule, as messages (empty: valid)."""
    doc: dict[str, Any] = {"version": 1, "schedules": [dict(item)]}
    if defaults:
        doc["defaults"] = dict(defaults)
    data = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    source = SourceFile("import", data, hashlib.sha256(data).hexdigest())
    result = validate_file(source)
    return [d.message for d in result.diagnostics]


def both_days_restricted(fields: Mapping[str, Any]) -> bool:
    parts = str(fields.get("cron") or "").split()
    return len(parts) == 5 and parts[2] != "*" and parts[4] != "*"


HELD = (
    "imported disabled, so it does not fire on days Celery never fired it: rewrite it, then "
    "enable it (or import with --accept-or-days to take cron's OR as it is)"
)


def finish(
    source: str,
    items: Sequence[Candidate | Note],
    defaults: Mapping[str, Any] | None = None,
    *,
    hold_and_days: bool = False,
) -> Imported:
    """Valid unique names, validated schedules; `items` in source order (a Note is an
    entry the converter already skipped), so the notes come out in that order too.

    `hold_and_days` (the Celery sources): a cron with both day fields restricted meant AND
    there and means OR here, so it would fire on more days; such a schedule is written
    disabled, with a note, unless the caller accepts the OR."""
    defaults = dict(defaults or {})
    out = Imported(source, defaults, [], {}, [])
    candidates = [c for c in items if isinstance(c, Candidate)]
    names, renames = assign_names(
        [c.fields["name"] for c in candidates], [c.origin for c in candidates]
    )
    chosen = {id(c): (n, r) for c, n, r in zip(candidates, names, renames, strict=True)}
    for entry in items:
        if isinstance(entry, Note):
            out.notes.append(entry)
            continue
        name, rename = chosen[id(entry)]
        item = {**entry.fields, "name": name}
        if hold_and_days and both_days_restricted(item) and item.get("enabled", True):
            item["enabled"] = False
            entry.notes.append(HELD)
        problems = _check(item, defaults)
        if problems:
            out.notes.append(skip(entry.origin, "syncd refuses it: " + "; ".join(problems)))
            continue
        if rename:
            out.notes.append(Note(entry.origin, RENAMED, rename))
        out.notes.extend(Note(entry.origin, DIFFERENCE, n) for n in entry.notes)
        out.schedules.append(item)
        if entry.notes:
            out.comments[name] = list(entry.notes)
    return out

"""`syncd rollback --to REV`: the managed schedules as they were right after revision REV,
worked out backwards from the rows as they stand. Pure: no I/O, no clock.

Each revision keeps its changes (`sync._changes_json`): an update its fields' old and new
values, a delete the old values of the fields that were set, a create only its name (the
row held the values, and every later update records old and new). So the state after REV
is the current one with every later revision undone, newest first:

* undo a create: the schedule goes;
* undo an update: each field takes its old value (null, or the field's default, means
  unset, as `export` writes it);
* undo a delete: the schedule comes back with its old fields.

A rollback belongs to one scope, the scope of revision REV (DESIGN §11, docs/sync.md
"Scopes"): it starts from that scope's managed rows and undoes only that scope's later
revisions (`in_scope`); another scope's rows and revisions are not its to undo.

Revisions of kind "pause" and "resume" change no schedule field and are passed over. A
revision whose changes were never recorded (made before syncd kept them) cannot be undone:
`HistoryGap` names it. The walk deals in YAML field values (`export.data` of the rows);
`syncd.sync.rollback` validates the result like files and applies it like `syncd apply`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncd.errors import HistoryGap
from syncd.spec import FIELD_DEFAULTS

# Kinds of revision that change no schedule row (a pause names the rows the beat reloads).
NO_SCHEDULE_CHANGES = frozenset({"pause", "resume"})
Fields = dict[str, Any]  # YAML field -> value, without `name`; unset fields left out
_UNSET = object()


@dataclass
class State:
    """Schedules by name: their set fields, and where each was declared ("PATH:LINE")."""

    fields: dict[str, Fields] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)


def _is_set(key: str, value: Any) -> bool:
    """As `export` writes fields: a null or a field's default value is left out."""
    return value is not None and value != FIELD_DEFAULTS.get(key, _UNSET)


def state_from_export(
    schedules: Iterable[Mapping[str, Any]], sources: Mapping[str, str | None]
) -> State:
    """The state of `export.data(rows)["schedules"]`: each item is `{"name", **fields}`."""
    out = State()
    for item in schedules:
        name = str(item["name"])
        out.fields[name] = {k: v for k, v in item.items() if k != "name"}
        out.sources[name] = sources.get(name)
    return out


def undo(state: State, revision: Mapping[str, Any]) -> None:
    """Undo one revision's changes in `state` (in place); HistoryGap if it kept none."""
    if revision.get("kind") in NO_SCHEDULE_CHANGES:
        return
    changes = revision.get("changes")
    if changes is None:
        raise HistoryGap(
            f"revision {revision['id']} recorded no field changes (it was made before syncd "
            "kept them), so the schedules before it cannot be worked out; nothing was "
            "changed. Roll back to revision "
            f"{revision['id']} or later, or revert in git and apply"
        )
    for change in reversed(changes):
        name = change["name"]
        action = change["action"]
        if action == "create":
            state.fields.pop(name, None)
            state.sources.pop(name, None)
        elif action == "delete":
            olds = {k: v.get("old") for k, v in (change.get("fields") or {}).items()}
            state.fields[name] = {k: v for k, v in olds.items() if _is_set(k, v)}
            state.sources[name] = change.get("source")
        elif action == "update":
            values = state.fields.setdefault(name, {})
            state.sources.setdefault(name, change.get("source"))
            for key, value in (change.get("fields") or {}).items():
                old = value.get("old")
                if _is_set(key, old):
                    values[key] = old
                else:  # unset before, or at its default (enabled: true)
                    values.pop(key, None)


def in_scope(revisions: Iterable[Mapping[str, Any]], scope: str | None) -> list[Mapping[str, Any]]:
    """The revisions of one scope (None: the default scope, as `syncd_revision.scope` is
    NULL for it and for every revision made before scopes)."""
    return [r for r in revisions if r.get("scope") == scope]


def state_after(current: State, later: Iterable[Mapping[str, Any]]) -> State:
    """The state right after the revision before `later` (every revision after it, in any
    order: they are undone newest first). `current` is left as it is."""
    state = State(
        {name: dict(values) for name, values in current.fields.items()}, dict(current.sources)
    )
    for revision in sorted(later, key=lambda r: int(r["id"]), reverse=True):
        undo(state, revision)
    return state


def canonical(values: Mapping[str, Any]) -> str:
    """One spelling of a field mapping (tuples and lists alike), to compare two of them."""
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def changed_names(current: State, target: State) -> list[str]:
    """Names the rollback creates or updates: in `target` and not equal in `current`."""
    return sorted(
        name
        for name, values in target.fields.items()
        if name not in current.fields or canonical(values) != canonical(current.fields[name])
    )


def document(name: str, values: Mapping[str, Any]) -> tuple[bytes, str]:
    """A schedules file holding one schedule (JSON, which is YAML), and its sha256: what a
    rollback validates exactly as a file, so the rules of today judge it."""
    data = json.dumps(
        {"version": 1, "schedules": [{"name": name, **values}]}, ensure_ascii=False, indent=2
    ).encode()
    return data, hashlib.sha256(data).hexdigest()

"""The plan: what an apply would change, as a value. Pure: no I/O, no clock.

Inputs are the desired schedules (from files) and a snapshot of the table's rows; the
output says, per name, create / update / delete with field-level old and new values in YAML
terms. Rules (DESIGN §3):

* only managed rows are created, updated or deleted; a row made by other means is never
  touched, and a desired schedule whose name collides with one is an error unless `adopt`;
* a managed row edited by hand (its columns no longer match the hash stored at apply) is
  drift: it shows as an update and the apply reverts it;
* a schedule that only moved (another line or file) is not a change; its source is
  refreshed silently;
* managed rows absent from the files are deleted, unless `prune` is off;
* a plan belongs to one scope (syncd.scopes): it prunes only that scope's managed rows, and
  a desired schedule whose name a managed row of another scope holds is an error (even
  with `adopt`: adoption is for rows syncd did not make. A rollback is a plan of the scope
  of the revision it goes back to, under the same rules.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from celeryapp.pausing import holds
from syncd.errors import Diagnostic
from syncd.scopes import describe
from syncd.spec import (
    FIELD_DEFAULTS,
    SCHEDULE_COLUMNS,
    TIMING_FIELDS,
    Schedule,
    comparable,
    fields,
    fields_from_row,
    row_hash,
)

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Row:
    """A snapshot of one table row: the schedule columns plus ownership and hashes."""

    id: int
    columns: Mapping[str, Any]
    managed: bool
    source: str | None
    source_hash: str | None
    row_hash: str | None
    scope: str | None = None  # the scope owning a managed row (None: the default scope)

    @property
    def name(self) -> str:
        return str(self.columns["name"])

    @functools.cached_property
    def drifted(self) -> bool:
        """Edited by hand since syncd wrote it (hashed once per row per plan)."""
        return (
            self.managed and self.row_hash is not None and row_hash(self.columns) != self.row_hash
        )


@dataclass(frozen=True)
class Change:
    action: Action
    name: str
    source: str | None
    fields: Mapping[str, Mapping[str, Any]]  # FIELD -> {"old": ..., "new": ...}
    drift: bool = False
    adopt: bool = False
    schedule: Schedule | None = field(default=None, compare=False)
    row_id: int | None = None

    @property
    def timing_changed(self) -> bool:
        return self.action == "create" or bool(TIMING_FIELDS & set(self.fields))


@dataclass(frozen=True)
class Paused:
    """A schedule paused at runtime (`syncd pause`): shown beside a plan, never a change."""

    name: str
    reason: str
    actor: str | None
    until: str | None  # RFC 3339; None: until `syncd resume`

    def describe(self) -> str:
        end = f"until {self.until}" if self.until else "until resumed"
        by = f", by {self.actor}" if self.actor else ""
        return f"{self.name} ({self.reason}{by}; {end})"


def paused_now(
    pauses: Mapping[str, Mapping[str, Any]], names: Collection[str], now: datetime
) -> tuple[Paused, ...]:
    """The pause rows (store.pauses) that hold at `now`, of schedules in `names`, by name."""
    return tuple(
        Paused(
            name,
            p["reason"],
            p.get("actor"),
            p["until_time"].isoformat() if p.get("until_time") else None,
        )
        for name, p in sorted(pauses.items())
        if name in names and holds(p.get("until_time"), now)
    )


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unchanged: int = 0
    # Unchanged schedules whose source or source_hash must be refreshed (not a change).
    refresh: tuple[Schedule, ...] = ()
    errors: tuple[Diagnostic, ...] = ()
    revision: int | None = None  # the database revision the plan was made against
    paused: tuple[Paused, ...] = ()  # runtime pauses that hold (not changes; not drift)
    scope: str | None = None  # the scope the plan belongs to (None: the default scope)

    @property
    def empty(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "delete": 0}
        for change in self.changes:
            counts[change.action] += 1
        return {**counts, "unchanged": self.unchanged}

    @property
    def changed_names(self) -> list[str]:
        return [c.name for c in self.changes]


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, new_value in new.items():
        old_value = old.get(name)
        if comparable(name, old_value) != comparable(name, new_value):
            out[name] = {"old": old_value, "new": new_value}
    return out


def _set_only(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in values.items() if v is not None and v != FIELD_DEFAULTS.get(k, object())
    }


def _source(schedule: Schedule) -> str | None:
    return str(schedule.source) if schedule.source is not None else None


def make_plan(
    desired: Iterable[Schedule],
    rows: Iterable[Row],
    *,
    prune: bool = True,
    adopt: bool = False,
    revision: int | None = None,
    keep: Iterable[str] = (),
    scope: str | None = None,
) -> Plan:
    """Diff desired schedules against rows. `keep` names schedules of files that were not
    re-read because nothing they depend on changed: they count as unchanged, never pruned.
    The plan is `scope`'s: other scopes' rows are never changed."""
    planner = _Planner({row.name: row for row in rows}, adopt=adopt, keep=keep, scope=scope)
    for schedule in desired:
        planner.add(schedule)
    if prune:
        planner.prune()
    changes = sorted(planner.changes, key=lambda c: c.name)
    return Plan(
        tuple(changes),
        planner.unchanged,
        tuple(planner.refresh),
        tuple(sorted(planner.errors)),
        revision,
        scope=scope,
    )


class _Planner:
    """The plan as it is gathered, one desired schedule at a time, then the prune."""

    def __init__(
        self,
        by_name: dict[str, Row],
        *,
        adopt: bool,
        keep: Iterable[str],
        scope: str | None,
    ) -> None:
        self.by_name = by_name
        self.adopt = adopt
        self.scope = scope
        self.changes: list[Change] = []
        self.refresh: list[Schedule] = []
        self.errors: list[Diagnostic] = []
        self.wanted: set[str] = {name for name in keep if name in by_name}
        self.unchanged = len(self.wanted)

    def add(self, schedule: Schedule) -> None:
        self.wanted.add(schedule.name)
        row = self.by_name.get(schedule.name)
        new = fields(schedule)
        if row is None:
            created = {k: {"old": None, "new": v} for k, v in _set_only(new).items()}
            self.changes.append(
                Change("create", schedule.name, _source(schedule), created, schedule=schedule)
            )
        elif row.managed and row.scope != self.scope:
            self.errors.append(_other_scope(schedule, row, self.scope))
        elif not row.managed and not self.adopt:
            self.errors.append(_unmanaged(schedule))
        else:
            self._compare(schedule, row, new)

    def _compare(self, schedule: Schedule, row: Row, new: Mapping[str, Any]) -> None:
        diff = _differences(fields_from_row(row.columns), new)
        if diff or not row.managed:
            self.changes.append(
                Change(
                    "update",
                    schedule.name,
                    _source(schedule),
                    diff,
                    drift=row.drifted,
                    adopt=not row.managed,
                    schedule=schedule,
                    row_id=row.id,
                )
            )
            return
        self.unchanged += 1
        if (
            row.drifted
            or row.source != _source(schedule)
            or row.source_hash != schedule.source_hash
        ):
            # Equal in YAML terms but stored differently (hash from an older syncd, or moved):
            # refresh the bookkeeping without calling it a change.
            self.refresh.append(schedule)

    def prune(self) -> None:
        """Delete the managed rows no desired schedule names; others' rows are never touched."""
        for name, row in self.by_name.items():
            if name in self.wanted or not row.managed:
                continue
            if row.scope != self.scope:
                continue
            old = _set_only(fields_from_row(row.columns))
            self.changes.append(
                Change(
                    "delete",
                    name,
                    row.source,
                    {k: {"old": v, "new": None} for k, v in old.items()},
                    drift=row.drifted,
                    row_id=row.id,
                )
            )


def _unmanaged(schedule: Schedule) -> Diagnostic:
    src = schedule.source
    return Diagnostic(
        src.path if src else "<unknown>",
        src.line if src else 1,
        src.column if src else 1,
        "ownership.unmanaged-row",
        f"schedule {schedule.name!r} already exists in the table and was not "
        "created by syncd; rename it, or pass --adopt to take it over",
    )


def _other_scope(schedule: Schedule, row: Row, scope: str | None) -> Diagnostic:
    src = schedule.source
    owner = describe(row.scope)
    where = f" (declared at {row.source})" if row.source else ""
    return Diagnostic(
        src.path if src else "<unknown>",
        src.line if src else 1,
        src.column if src else 1,
        "ownership.other-scope",
        f"schedule {schedule.name!r} is owned by {owner}{where}, not {describe(scope)}; "
        f"names are unique across scopes: rename it here, or remove it from {owner}'s "
        "files and apply them first",
    )


def apply_to_rows(plan: Plan, rows: Sequence[Row]) -> list[Row]:
    """The rows after applying `plan`, in memory: the model the property tests check the
    real store against. Row ids of created rows are negative placeholders."""
    from syncd.spec import row_values

    by_name = {row.name: row for row in rows}
    for change in plan.changes:
        if change.action == "delete":
            by_name.pop(change.name, None)
            continue
        assert change.schedule is not None
        values = row_values(change.schedule)
        previous = by_name.get(change.name)
        by_name[change.name] = Row(
            previous.id if previous else -len(by_name) - 1,
            values,
            True,
            _source(change.schedule),
            change.schedule.source_hash,
            row_hash(values),
            plan.scope,
        )
    for schedule in plan.refresh:
        row = by_name[schedule.name]
        by_name[schedule.name] = Row(
            row.id,
            row.columns,
            True,
            _source(schedule),
            schedule.source_hash,
            row_hash(row.columns),
            row.scope,
        )
    return sorted(by_name.values(), key=lambda r: r.name)


__all__ = ["SCHEDULE_COLUMNS", "Change", "Plan", "Row", "apply_to_rows", "make_plan"]

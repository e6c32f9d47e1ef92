"""Scopes: which scope a run is in (syncd.scopes), and the plan rules that keep one scope's
apply off every other scope's rows (syncd.plan, syncd.guards)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.errors import UsageError
from syncd.guards import Guards, check
from syncd.plan import Row, apply_to_rows, make_plan
from syncd.render import plan_dict, plan_text
from syncd.rollback import in_scope
from syncd.savedplan import shape_problem
from syncd.scopes import FileScope, check_option, resolve
from syncd.spec import Schedule, Source, row_hash, row_values
from syncd.sync import gather


def sched(name: str, *, every: int = 60, path: str = "s.yaml") -> Schedule:
    return Schedule(name=name, task="t.a", every=every, source=Source(path, 3, 5), source_hash="h")


def row(
    schedule: Schedule, scope: str | None, *, managed: bool = True, rid: int = 1, path: str = "s"
) -> Row:
    values = row_values(schedule)
    return Row(rid, values, managed, f"{path}.yaml:3", "h", row_hash(values), scope)


# --- which scope a run is in ---------------------------------------------------------------


def test_option_sets_the_scope_of_files_naming_none() -> None:
    scope, errors = resolve([FileScope("a.yaml", None), FileScope("b.yaml", "pay", 2, 1)], "pay")
    assert scope == "pay" and errors == []


def test_a_file_naming_another_scope_than_the_option_is_an_error_at_its_line() -> None:
    _, errors = resolve([FileScope("a.yaml", "ops", 2, 8)], "pay")
    assert [(e.path, e.line, e.column, e.code) for e in errors] == [
        ("a.yaml", 2, 8, "scope.mismatch")
    ]
    assert "'ops'" in errors[0].message and "--scope is 'pay'" in errors[0].message


def test_without_the_option_every_file_must_agree() -> None:
    assert resolve([FileScope("a.yaml", "pay"), FileScope("b.yaml", "pay")], None) == ("pay", [])
    assert resolve([FileScope("a.yaml", None)], None) == (None, [])
    scope, errors = resolve([FileScope("b.yaml", "pay", 2, 8), FileScope("a.yaml", None)], None)
    assert scope is None  # the first file by path decides; the others are told
    assert [(e.path, e.line) for e in errors] == [("b.yaml", 2)]
    assert "scope 'pay'" in errors[0].message and "the default scope" in errors[0].message


@pytest.mark.parametrize("value", ["Pay", "", "-x", "a" * 65, "pay\n", "pay team"])
def test_a_bad_scope_option_is_a_usage_error_naming_it(value: str) -> None:
    with pytest.raises(UsageError, match="--scope"):
        check_option(value)
    assert check_option("a" * 64) == "a" * 64


# --- the plan rules -----------------------------------------------------------------------


def test_a_name_owned_by_another_scope_is_an_error_naming_it() -> None:
    plan = make_plan([sched("nightly")], [row(sched("nightly"), "ops")], scope="pay")
    assert plan.empty
    [error] = plan.errors
    assert (error.path, error.line, error.column, error.code) == (
        "s.yaml",
        3,
        5,
        "ownership.other-scope",
    )
    assert "owned by scope 'ops'" in error.message and "not scope 'pay'" in error.message
    assert "rename it here, or remove it from scope 'ops'" in error.message


def test_adopt_takes_over_unmanaged_rows_but_never_another_scopes() -> None:
    other = make_plan([sched("n")], [row(sched("n"), None)], scope="pay", adopt=True)
    assert [e.code for e in other.errors] == ["ownership.other-scope"]
    assert "the default scope" in other.errors[0].message
    legacy = make_plan(
        [sched("n")], [row(sched("n"), None, managed=False)], scope="pay", adopt=True
    )
    assert not legacy.errors and [c.adopt for c in legacy.changes] == [True]


def test_prune_and_the_empty_guard_count_only_the_scopes_rows() -> None:
    rows = [row(sched("a1"), "a", rid=1), row(sched("b1"), "b", rid=2)]
    plan = make_plan([], rows, scope="a")
    assert [(c.action, c.name) for c in plan.changes] == [("delete", "a1")]
    [refusal] = check(plan, Guards())
    assert refusal.guard == "allow-empty" and "of scope 'a'" in refusal.message
    assert make_plan([], rows, scope="c").empty  # a new scope deletes nothing


def test_the_default_scope_is_the_rows_without_one() -> None:
    rows = [row(sched("old"), None, rid=1), row(sched("team"), "a", rid=2)]
    plan = make_plan([sched("old")], rows)
    assert plan.empty and plan.scope is None and plan.unchanged == 1


def test_an_update_keeps_the_plans_scope() -> None:
    rows = [row(sched("a1"), "a", rid=1), row(sched("b1"), "b", rid=2)]
    plan = make_plan([sched("b1", every=5)], rows, scope="b")
    assert not plan.errors and [(c.action, c.name) for c in plan.changes] == [("update", "b1")]
    after = {r.name: r.scope for r in apply_to_rows(plan, rows)}
    assert after == {"a1": "a", "b1": "b"}  # and the other scope's row is left alone


def test_a_rollback_undoes_only_the_revisions_of_its_scope() -> None:
    revisions = [
        {"id": 2, "scope": "a", "changes": []},
        {"id": 3, "scope": None, "changes": []},
        {"id": 4, "scope": "b", "changes": []},
        {"id": 5, "scope": "a", "kind": "rollback", "changes": []},
    ]
    assert [r["id"] for r in in_scope(revisions, "a")] == [2, 5]
    assert [r["id"] for r in in_scope(revisions, None)] == [3]


def test_the_plan_shows_its_scope_only_when_it_has_one() -> None:
    scoped = make_plan([sched("x")], [], scope="pay")
    assert plan_dict(scoped)["scope"] == "pay"
    assert plan_text(scoped).splitlines()[0] == "Scope: pay"
    plain = make_plan([sched("x")], [])
    assert "scope" not in plan_dict(plain)
    assert "Scope" not in plan_text(plain)


def test_a_saved_plan_may_hold_its_scope() -> None:
    saved = {**plan_dict(make_plan([sched("x")], [], scope="pay")), "paths": ["s"]}
    saved["options"] = {"prune": True, "adopt": False, "scope": "pay"}
    assert shape_problem(saved) is None
    assert "scope" in (shape_problem({**saved, "scope": "Bad Scope"}) or "")
    assert "scope" in (shape_problem({**saved, "options": {"scope": 3}}) or "")


# --- the property: one scope's apply never plans a change to another scope's rows ------------

names = st.lists(st.sampled_from([f"s{i}" for i in range(12)]), unique=True, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    table=names,
    owners=st.lists(st.sampled_from([None, "a", "b"]), min_size=12, max_size=12),
    desired=names,
    every=st.integers(1, 3),
    prune=st.booleans(),
    scope=st.sampled_from([None, "a", "b"]),
)
def test_applying_one_scope_never_changes_anothers_rows(
    table: list[str],
    owners: list[str | None],
    desired: list[str],
    every: int,
    prune: bool,
    scope: str | None,
) -> None:
    rows = [row(sched(n), owners[i], rid=i + 1) for i, n in enumerate(table)]
    owner = {r.name: r.scope for r in rows}
    plan = make_plan([sched(n, every=every) for n in desired], rows, scope=scope, prune=prune)
    collisions = {n for n in desired if n in owner and owner[n] != scope}
    assert {e.message.split("'")[1] for e in plan.errors} == collisions
    for change in plan.changes:
        assert owner.get(change.name, scope) == scope, change
    if not plan.errors:
        after = {r.name: r for r in apply_to_rows(plan, rows)}
        for r in rows:
            if r.scope != scope:
                assert after[r.name] == r  # untouched, whatever the other scope had
        assert {n for n, r in after.items() if r.scope == scope} == (
            set(desired) | ({n for n, s in owner.items() if s == scope} if not prune else set())
        )


# --- the manifest: the same path in two scopes is two files -----------------------------


def test_gather_skips_a_file_only_in_the_scope_it_was_applied_in() -> None:
    from syncd.sources import SourceFile

    data = b"version: 1\nscope: pay\nschedules:\n  - name: n\n    task: t.a\n    every: 1m\n"
    source = SourceFile("jobs.yaml", data, "d1")
    first = gather([source], [], {}, registry=None, default_timezone="UTC")
    assert first.scope == "pay" and first.parsed == 1 and not first.diagnostics
    [schedule] = first.schedules
    applied = make_plan(first.schedules, [], scope=first.scope)
    rows = apply_to_rows(applied, [])
    previous = {("pay", "jobs.yaml"): first.files["jobs.yaml"]}
    again = gather([source], rows, previous, registry=None, default_timezone="UTC")
    assert again.skipped == 1 and again.scope == "pay" and again.kept == {"n": "jobs.yaml:4"}
    # Another scope's entry for the same path and bytes is not this file's.
    moved = [Row(r.id, r.columns, True, r.source, r.source_hash, r.row_hash, "ops") for r in rows]
    other = gather([source], moved, previous, registry=None, default_timezone="UTC")
    assert other.parsed == 1 and other.skipped == 0
    assert schedule.name == "n"

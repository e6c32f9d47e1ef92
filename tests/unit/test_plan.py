"""The planner: field-level diffs, ownership, drift, prune, and the convergence property."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.plan import Row, apply_to_rows, make_plan
from syncd.spec import Schedule, Source, row_hash, row_values


def sched(name: str, **kw: object) -> Schedule:
    base: dict[str, object] = {"task": "t.a", "every": 60}
    base.update(kw)
    return Schedule(name=name, source=Source("s.yaml", 3), source_hash="h", **base)  # type: ignore[arg-type]


def row(schedule: Schedule, *, managed: bool = True, rid: int = 1, **edit: object) -> Row:
    values = row_values(schedule)
    stored_hash = row_hash(values)
    values.update(edit)  # a hand edit after apply changes columns but not the stored hash
    return Row(rid, values, managed, "s.yaml:3", "h", stored_hash if managed else None)


def test_create_update_delete_in_name_order() -> None:
    plan = make_plan(
        [sched("b", every=120), sched("c")],
        [row(sched("a"), rid=1), row(sched("b"), rid=2)],
    )
    assert [(c.action, c.name) for c in plan.changes] == [
        ("delete", "a"),
        ("update", "b"),
        ("create", "c"),
    ]
    assert plan.changes[1].fields == {"every": {"old": "1m", "new": "2m"}}
    assert plan.summary() == {"create": 1, "update": 1, "delete": 1, "unchanged": 0}


def test_moved_schedule_is_not_a_change_but_is_refreshed() -> None:
    moved = replace(sched("a"), source=Source("other.yaml", 9))
    plan = make_plan([moved], [row(sched("a"))])
    assert plan.empty and plan.unchanged == 1
    assert [s.name for s in plan.refresh] == ["a"]


def test_instants_compare_by_instant_not_offset() -> None:
    berlin = datetime.fromisoformat("2026-03-01T10:00:00+01:00")
    plan = make_plan(
        [sched("a", start_time=berlin)], [row(sched("a", start_time=berlin.astimezone(UTC)))]
    )
    assert plan.empty


def test_unmanaged_row_is_never_touched() -> None:
    plan = make_plan([], [row(sched("legacy"), managed=False)])
    assert plan.empty
    collide = make_plan([sched("legacy", every=5)], [row(sched("legacy"), managed=False)])
    assert collide.changes == () and collide.errors[0].code == "ownership.unmanaged-row"
    adopted = make_plan(
        [sched("legacy", every=5)], [row(sched("legacy"), managed=False)], adopt=True
    )
    assert [(c.action, c.adopt) for c in adopted.changes] == [("update", True)]


def test_adopting_an_identical_row_still_marks_it_managed() -> None:
    plan = make_plan([sched("a")], [row(sched("a"), managed=False)], adopt=True)
    assert [(c.action, c.adopt, dict(c.fields)) for c in plan.changes] == [("update", True, {})]


def test_drift_is_an_update_marked_drift() -> None:
    plan = make_plan(
        [sched("a")], [row(sched("a"), crontab="* * * * *", type=1, interval_every=None)]
    )
    (change,) = plan.changes
    assert change.action == "update" and change.drift
    assert change.fields["cron"] == {"old": "* * * * *", "new": None}


def test_no_prune_keeps_rows() -> None:
    assert make_plan([], [row(sched("a"))], prune=False).empty


def test_kept_names_count_unchanged_and_are_not_pruned() -> None:
    plan = make_plan([], [row(sched("a"))], keep=["a"])
    assert plan.empty and plan.unchanged == 1


def test_timing_change_flag() -> None:
    plan = make_plan(
        [sched("a", description="x"), sched("b", every=5)],
        [row(sched("a"), rid=1), row(sched("b"), rid=2)],
    )
    assert [c.timing_changed for c in plan.changes] == [False, True]


# --- property: applying a plan converges; a second plan is empty ------------------------

field_values = st.fixed_dictionaries(
    {},
    optional={
        "every": st.integers(1, 10**5),
        "queue": st.sampled_from(["a", "b"]),
        "args": st.lists(st.integers(0, 3), max_size=2).map(tuple),
        "enabled": st.booleans(),
        "description": st.sampled_from(["x", "y"]),
        "start_time": st.sampled_from([datetime(2026, 1, 1, tzinfo=UTC)]),
    },
)
names = st.sampled_from([f"s{i}" for i in range(8)])


@st.composite
def states(draw: st.DrawFn) -> tuple[list[Schedule], list[Row]]:
    desired = [sched(n, **draw(field_values)) for n in draw(st.sets(names, max_size=6))]
    rows = []
    for i, n in enumerate(sorted(draw(st.sets(names, max_size=6)))):
        managed = draw(st.booleans())
        edit = draw(st.sampled_from([{}, {"queue": "hand-edited"}, {"interval_every": 7}]))
        rows.append(row(sched(n, **draw(field_values)), managed=managed, rid=i + 1, **edit))
    return desired, rows


@settings(max_examples=400, deadline=None)
@given(states(), st.booleans())
def test_apply_then_plan_is_empty(state: tuple[list[Schedule], list[Row]], prune: bool) -> None:
    desired, rows = state
    plan = make_plan(desired, rows, prune=prune, adopt=True)
    after = apply_to_rows(plan, rows)
    again = make_plan(desired, after, prune=prune, adopt=True)
    assert again.empty, again.changes
    by_name = {r.name: r for r in after}
    for schedule in desired:
        r = by_name[schedule.name]
        assert r.managed and not r.drifted
        assert dict(r.columns) == row_values(schedule)
    if prune:
        assert {r.name for r in after if r.managed} == {s.name for s in desired}
    # rows made by other means survive untouched unless adopted
    for r in rows:
        if not r.managed and r.name not in {s.name for s in desired}:
            assert by_name[r.name] == r

"""The prune guards (DESIGN §8) are a pure function of the plan and the options."""

from __future__ import annotations

from syncd.guards import Guards, check
from syncd.plan import Row, make_plan
from tests.unit.test_plan import row, sched


def _rows(*names: str, managed: bool = True) -> list[Row]:
    return [row(sched(n), managed=managed, rid=i + 1) for i, n in enumerate(names)]


def test_deleting_every_managed_schedule_is_refused_unless_allowed() -> None:
    plan = make_plan([], _rows("a", "b"))
    assert [r.guard for r in check(plan, Guards())] == ["allow-empty"]
    assert check(plan, Guards(allow_empty=True)) == ()
    # Replacing every schedule by others still deletes every one (a wrong directory).
    assert [r.guard for r in check(make_plan([sched("c")], _rows("a")), Guards())] == [
        "allow-empty"
    ]


def test_partial_delete_no_delete_and_unmanaged_rows_pass() -> None:
    assert check(make_plan([sched("a")], _rows("a", "b")), Guards()) == ()
    assert check(make_plan([], []), Guards()) == ()
    assert check(make_plan([], _rows("x", managed=False)), Guards()) == ()
    assert check(make_plan([], _rows("a"), prune=False), Guards()) == ()
    # An updated row is kept, not deleted.
    assert check(make_plan([sched("a", queue="q2")], _rows("a", "b")), Guards()) == ()


def test_max_delete() -> None:
    plan = make_plan([sched("a")], _rows("a", "b", "c"))
    assert check(plan, Guards(max_delete=2)) == ()
    refused = check(plan, Guards(max_delete=1))
    assert [r.guard for r in refused] == ["max-delete"]
    assert "deletes 2 schedules, more than --max-delete 1" in refused[0].message
    both = check(make_plan([], _rows("a", "b")), Guards(max_delete=0))
    assert [r.guard for r in both] == ["allow-empty", "max-delete"]

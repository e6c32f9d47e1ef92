"""The rollback walk (syncd.rollback): the state right after any revision, worked back
from the current rows through the changes the revisions recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd import export
from syncd.errors import EXIT_USAGE, HistoryGap
from syncd.plan import Row, apply_to_rows, make_plan
from syncd.rollback import State, changed_names, state_after, state_from_export, undo
from syncd.spec import Schedule, Source
from syncd.sync import _changes_json

NAMES = ("alpha", "beta", "gamma", "delta")


def state_of(rows: Sequence[Row]) -> State:
    managed = [r for r in rows if r.managed]
    return state_from_export(export.data(managed)["schedules"], {r.name: r.source for r in managed})


@st.composite
def schedules(draw: st.DrawFn, name: str) -> Schedule:
    timing: dict[str, Any] = draw(
        st.one_of(
            st.builds(lambda s: {"every": s}, st.sampled_from([30, 60, 3600])),
            st.builds(lambda c: {"cron": c}, st.sampled_from(["0 2 * * *", "*/5 * * * *"])),
        )
    )
    return Schedule(
        name=name,
        task=draw(st.sampled_from(["reports.send", "health.ping"])),
        queue=draw(st.sampled_from([None, "reports", "default"])),
        priority=draw(st.sampled_from([None, 0, 5])),
        enabled=draw(st.booleans()),
        args=draw(st.sampled_from([None, (1, "x"), ()])),
        kwargs=draw(st.sampled_from([None, {"to": "ops"}])),
        timezone=draw(st.sampled_from([None, "Europe/Berlin"])),
        expires=draw(st.sampled_from([None, datetime(2030, 1, 1, tzinfo=UTC)])),
        catchup_window=draw(st.sampled_from([None, 600])),
        description=draw(st.sampled_from([None, "nightly report"])),
        source=Source(f"schedules/{name}.yaml", draw(st.integers(1, 9))),
        **timing,
    )


@st.composite
def desired_states(draw: st.DrawFn) -> list[Schedule]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    return [draw(schedules(name)) for name in sorted(names)]


def run_history(
    steps: Sequence[list[Schedule]], pauses: Sequence[bool]
) -> tuple[list[Row], list[dict[str, Any]], dict[int, State]]:
    """Apply each desired state in turn as `syncd apply` would (a no-op records nothing),
    with a pause revision after some; the rows, the revisions, the state after each."""
    unmanaged = Row(99, {"name": "by-hand", "task": "x", "type": 2}, False, None, None, None)
    rows: list[Row] = [unmanaged]
    revisions: list[dict[str, Any]] = []
    after: dict[int, State] = {}

    def record(kind: str | None, changes: Any) -> None:
        revision = len(revisions) + 1
        # As the database gives them back: JSON (tuples come back as lists).
        revisions.append({"id": revision, "kind": kind, "changes": json.loads(json.dumps(changes))})
        after[revision] = state_of(rows)

    for desired, pause in zip(steps, pauses, strict=True):
        plan = make_plan(desired, rows)
        if plan.changes:
            rows = apply_to_rows(plan, rows)
            record(None, _changes_json(plan))
        if pause:  # a pause changes no schedule field: it must be passed over
            record("pause", None)
    return rows, revisions, after


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(desired_states(), st.booleans()), min_size=1, max_size=8))
def test_undoing_the_later_revisions_gives_the_state_right_after_each(
    history: list[tuple[list[Schedule], bool]],
) -> None:
    rows, revisions, after = run_history([h[0] for h in history], [h[1] for h in history])
    current = state_of(rows)
    for target, expected in after.items():
        later = [r for r in revisions if r["id"] > target]
        got = state_after(current, later)
        assert got.fields == json.loads(json.dumps(expected.fields)), target
        # Nothing left to change once the rollback is applied.
        assert changed_names(expected, got) == []
        assert set(got.sources) == set(got.fields)
    # The walk leaves its input alone.
    assert current == state_of(rows)


def test_undo_of_each_action() -> None:
    state = State(
        {"kept": {"task": "t"}, "made": {"task": "t"}, "changed": {"task": "t", "priority": 3}},
        {"kept": "a.yaml:1", "made": "a.yaml:2", "changed": "a.yaml:3"},
    )
    undo(
        state,
        {
            "id": 4,
            "kind": None,
            "changes": [
                {"action": "create", "name": "made", "source": "a.yaml:2"},
                {
                    "action": "update",
                    "name": "changed",
                    "source": "a.yaml:3",
                    "fields": {
                        "priority": {"old": None, "new": 3},
                        "task": {"old": "s", "new": "t"},
                    },
                },
                {
                    "action": "delete",
                    "name": "gone",
                    "source": "b.yaml:7",
                    "fields": {
                        "task": {"old": "u", "new": None},
                        "every": {"old": "1m", "new": None},
                    },
                },
            ],
        },
    )
    assert state.fields == {
        "kept": {"task": "t"},
        "changed": {"task": "s"},  # an old value of null: the field was unset
        "gone": {"task": "u", "every": "1m"},
    }
    assert state.sources["gone"] == "b.yaml:7"
    assert "made" not in state.sources


@pytest.mark.parametrize("kind", ["pause", "resume"])
def test_pause_and_resume_revisions_are_passed_over(kind: str) -> None:
    state = State({"a": {"task": "t"}}, {"a": None})
    got = state_after(state, [{"id": 2, "kind": kind, "changes": None}])
    assert got.fields == {"a": {"task": "t"}}


def test_a_revision_without_recorded_changes_cannot_be_undone() -> None:
    state = State({"a": {"task": "t"}}, {"a": None})
    later = [
        {"id": 3, "kind": None, "changes": []},
        {"id": 4, "kind": "rollback", "changes": None},
        {"id": 5, "kind": None, "changes": []},
    ]
    with pytest.raises(HistoryGap) as caught:
        state_after(state, later)
    assert caught.value.exit_code == EXIT_USAGE
    assert "revision 4 recorded no field changes" in caught.value.message
    assert "revision 4 or later" in caught.value.message

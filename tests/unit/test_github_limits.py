"""GitHub's limits on what a workflow step can show, against a large generated plan:
a pull-request comment under 65 536 characters, a job summary under 1 MiB, at most 10
annotations of each level per step."""

from __future__ import annotations

import re

from syncd.errors import Diagnostic
from syncd.plan import make_plan
from syncd.render import GITHUB_ANNOTATION_CAP, render_diagnostics, render_plan
from syncd.spec import Schedule, Source

COMMENT_LIMIT = 65_536
SUMMARY_LIMIT = 1024 * 1024


def big_plan(n: int, payload: int = 0) -> object:
    kwargs = {"blob": "x" * payload} if payload else None
    schedules = [
        Schedule(
            f"job-{i:05d}",
            "reports.send_daily",
            every=60 + i,
            kwargs=kwargs,
            source=Source(f"schedules/team-{i % 40}.yaml", 3 + i),
        )
        for i in range(n)
    ]
    return make_plan(schedules, [])


def test_a_plan_past_fifty_changes_is_summarised_with_counts_and_the_first_changes() -> None:
    plan = big_plan(3000)
    comment = render_plan(plan, "markdown")  # type: ignore[arg-type]
    assert len(comment) < COMMENT_LIMIT
    assert "| create | 3000 |" in comment
    assert "The first 50 of 3000 changes" in comment
    assert "`job-00049`" in comment
    assert "`job-00050`" not in comment
    assert "2950 more" in comment


def test_huge_values_keep_the_comment_under_githubs_limit() -> None:
    plan = big_plan(40, payload=20_000)  # under 50 changes, but each detail is 20 kB
    comment = render_plan(plan, "markdown")  # type: ignore[arg-type]
    assert len(comment) < COMMENT_LIMIT
    assert "`job-00039`" in comment  # every change is still listed in the table
    assert "left out (size limit)" in comment


def test_a_small_plan_shows_every_change_with_its_details() -> None:
    plan = big_plan(3)
    comment = render_plan(plan, "markdown")  # type: ignore[arg-type]
    assert comment.count("<details>") == 3
    assert "more" not in comment


def test_plan_annotations_stay_within_the_cap() -> None:
    out = render_plan(big_plan(500), "github").splitlines()  # type: ignore[arg-type]
    notices = [line for line in out if line.startswith("::notice")]
    assert len(notices) <= GITHUB_ANNOTATION_CAP
    assert "491 changes not annotated" in notices[-1]


def test_error_annotations_stay_within_the_cap_across_codes() -> None:
    diagnostics = [
        Diagnostic(f"schedules/f{i}.yaml", i + 1, 3, f"code.{i % 25}", "m" * 300)
        for i in range(20_000)
    ]
    out = render_diagnostics(diagnostics, "github").splitlines()
    errors = [line for line in out if line.startswith("::error")]
    warnings = [line for line in out if line.startswith("::warning")]
    assert len(errors) == GITHUB_ANNOTATION_CAP
    assert len({re.search(r"title=([^:]+)::", e).group(1) for e in errors}) == 10  # type: ignore[union-attr]
    assert len(warnings) == 1
    assert f"{20_000 - GITHUB_ANNOTATION_CAP} more errors" in warnings[0]
    summary = render_diagnostics(diagnostics, "markdown")
    assert len(summary.encode()) < SUMMARY_LIMIT // 2  # room for the plan's summary too
    assert "more errors not shown" in summary

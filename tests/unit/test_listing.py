"""What `syncd list` and `show` say of a schedule, from rows, pauses, dispatches and
results passed in, at an instant passed in (no database, no backend)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from celeryapp.schedules import ScheduleType
from syncd.listing import PastRun, Result, consecutive_failures, summary, view
from syncd.listrender import render_list, render_show
from syncd.store.runs import Dispatch

NOW = datetime(2026, 12, 3, 12, 0, 30, tzinfo=UTC)
LATE = timedelta(seconds=5)


def _row(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "report",
        "task": "reports.send",
        "type": ScheduleType.CRONTAB,
        "crontab": "0 * * * *",
        "interval_every": None,
        "interval_period": None,
        "timezone": "Europe/Berlin",
        "enabled": True,
        "managed": True,
        "source": "schedules/a.yaml:3",
        "created_time": datetime(2026, 12, 1, tzinfo=UTC),
        "schedule_changed_time": datetime(2026, 12, 1, tzinfo=UTC),
        "last_run_time": datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        "total_run_count": 50,
        "catchup": "latest",
        "overlap": "allow",
        **overrides,
    }


def _dispatch(hour: int, published: bool = True) -> Dispatch:
    due = datetime(2026, 12, 3, hour, 0, tzinfo=UTC)
    return Dispatch(due, f"report@{due:%Y-%m-%dT%H:%M:%SZ}", due if published else None)


def _view(row: dict[str, Any] | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "pause": None,
        "dispatches": [],
        "results": {},
        "now": NOW,
        "default_timezone": "UTC",
        "late_after": LATE,
        **kw,
    }
    return view(row or _row(), **args)


def test_a_healthy_schedule_next_in_its_zone_last_outcome_from_the_backend() -> None:
    dispatches = [_dispatch(12), _dispatch(11)]
    results = {
        dispatches[0].task_id: Result("SUCCESS", NOW, "w1@host"),
        dispatches[1].task_id: Result("FAILURE", NOW, "w1@host"),
    }
    v = _view(dispatches=dispatches, results=results)
    assert v.state == "ok" and v.last_outcome == "success"
    assert v.next_due is not None and v.next_due.isoformat() == "2026-12-03T14:00:00+01:00"
    assert v.consecutive_failures == 0 and v.runs[0].worker == "w1@host"
    assert v.runs[0].took == 30.0


def test_failures_in_a_row_skip_runs_not_finished_yet() -> None:
    def run(outcome: str) -> PastRun:
        return PastRun(NOW, "t", NOW, outcome, None, None)

    assert consecutive_failures([run(o) for o in ("running", "failure", "failure", "success")]) == 2
    assert consecutive_failures([run(o) for o in ("failure", "sent", "failure")]) == 1
    assert consecutive_failures([run("success"), run("failure")]) == 0
    dispatches = [_dispatch(12), _dispatch(11), _dispatch(10, published=False)]
    results = {d.task_id: Result("FAILURE") for d in dispatches[:2]}
    v = _view(dispatches=dispatches, results=results)
    assert v.state == "failing" and v.consecutive_failures == 2
    assert [r.outcome for r in v.runs] == ["failure", "failure", "claimed"]


def test_late_when_a_due_time_passed_without_a_dispatch() -> None:
    v = _view(_row(last_run_time=datetime(2026, 12, 3, 11, 0, tzinfo=UTC)))
    assert v.state == "late" and v.late_seconds == 30.0
    # Younger than the beat's allowance: not late yet.
    young = _view(
        _row(last_run_time=datetime(2026, 12, 3, 11, 0, tzinfo=UTC)),
        late_after=timedelta(minutes=1),
    )
    assert young.state == "ok"
    # Created after that due time: nothing was owed yet.
    fresh = _view(_row(last_run_time=None, schedule_changed_time=NOW - timedelta(seconds=10)))
    assert fresh.state == "ok" and fresh.last_outcome == "never ran"


def test_paused_and_disabled_are_not_late_and_a_pause_moves_next() -> None:
    stale = _row(last_run_time=datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    until = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    paused = _view(stale, pause={"reason": "incident", "actor": "ops", "until_time": until})
    assert paused.state == "paused" and paused.late_seconds is None
    # A due time at the pause's end runs: it is the next one.
    assert (
        paused.next_due is not None and paused.next_due.isoformat() == "2026-12-03T16:00:00+01:00"
    )
    forever = _view(stale, pause={"reason": "incident", "actor": None, "until_time": None})
    assert forever.next_due is None
    ended = _view(stale, pause={"reason": "x", "actor": None, "until_time": NOW})
    assert ended.paused is None and ended.state == "late"
    assert _view(_row(enabled=False)).state == "disabled"


def test_a_row_the_beat_cannot_schedule_is_shown_with_why() -> None:
    v = _view(_row(crontab="61 * * * *"))
    assert v.state == "unschedulable" and v.unschedulable


def test_every_format() -> None:
    views = [_view(), _view(_row(name="late", last_run_time=datetime(2026, 12, 3, 9, tzinfo=UTC)))]
    assert summary(views)["late"] == 1
    text = render_list(views, "text")
    assert text.splitlines()[0].split() == [
        "NAME",
        "STATE",
        "TIMING",
        "NEXT",
        "LAST",
        "DUE",
        "LAST",
        "RUNS",
        "FAILS",
        "IN",
        "WORDS",
    ]
    assert "late 30s" in text and text.endswith("2 schedules: 1 late")
    data = json.loads(render_list(views, "json"))
    assert data["schedules"][0]["description"] == "Every hour"
    assert data["summary"]["total"] == 2
    assert (
        render_list(views, "github").splitlines()[0].startswith("::warning title=syncd late late::")
    )
    assert render_list(views, "markdown").startswith("### syncd list: 2 schedules: 1 late")
    shown = render_show(
        views[0],
        [{"id": 3, "created_time": NOW, "kind": None, "git_commit": "abc", "actor": "ci"}],
        views[0].next_times,
        "text",
    )
    assert "timing:    cron: 0 * * * *  # Every hour (Europe/Berlin)" in shown
    assert "  3  2026-12-03T12:00:30Z  apply  abc  ci" in shown
    assert json.loads(render_show(views[0], [], (), "json"))["schedule"]["name"] == "report"


def test_list_words_each_cron_in_text_and_markdown() -> None:
    """The cron in words beside it in every `list` format (issue 16), not only in json: a
    last column, "-" for a row without a cron."""
    every = _view(
        _row(
            name="poll",
            type=ScheduleType.INTERVAL,
            crontab=None,
            interval_every=60,
            interval_period="seconds",
        )
    )
    views = [_view(), every]
    text = render_list(views, "text").splitlines()
    assert text[0].split()[-2:] == ["IN", "WORDS"]
    assert text[1].startswith("report") and text[1].endswith("  Every hour")
    assert text[2].startswith("poll") and text[2].endswith("  -")
    markdown = render_list(views, "markdown").splitlines()
    assert markdown[2].endswith("| fails | in words |")
    assert markdown[4].endswith("| Every hour |") and markdown[5].endswith("| - |")

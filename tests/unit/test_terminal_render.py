"""Pure rendering for the terminal: colour, compaction, every format of trigger, status and
export, export's modeline, the progress line, and when colour is on."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import click
import pytest

from syncd import export as exporting
from syncd.cli.terminal import Progress, color_enabled
from syncd.plan import Change, Plan, Row
from syncd.render import COMPACT_FIRST, COMPACT_THRESHOLD, render_plan
from syncd.status import render as render_status
from syncd.trigger import render_report

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plan(creates: int, updates: int = 0, deletes: int = 0) -> Plan:
    changes = [
        *(
            Change("create", f"c{i:05d}", f"s.yaml:{i}", {"task": {"old": None, "new": "t"}})
            for i in range(creates)
        ),
        *(
            Change(
                "update",
                f"u{i:05d}",
                "s.yaml:1",
                {"cron": {"old": "1 * * * *", "new": "2 * * * *"}},
            )
            for i in range(updates)
        ),
        *(
            Change("delete", f"d{i:05d}", None, {"task": {"old": "t", "new": None}})
            for i in range(deletes)
        ),
    ]
    return Plan(changes=tuple(sorted(changes, key=lambda c: c.name)), unchanged=3)


def test_colour_per_action_only_when_asked() -> None:
    plan = _plan(1, 1, 1)
    plain = render_plan(plan, "text")
    assert "\x1b[" not in plain
    coloured = render_plan(plan, "text", color=True)
    assert click.style("+ c00000", fg="green", bold=True) in coloured
    assert click.style("~ u00000", fg="yellow", bold=True) in coloured
    assert click.style("- d00000", fg="red", bold=True) in coloured
    assert ANSI.sub("", coloured) == plain
    for fmt in ("json", "markdown", "github"):
        assert "\x1b[" not in render_plan(plan, fmt, color=True)


def test_compact_past_the_threshold_fits_one_screen() -> None:
    assert "compact plan" not in render_plan(_plan(COMPACT_THRESHOLD), "text")
    big = render_plan(_plan(10_000, 2_000, 3_000), "text").splitlines()
    assert len(big) <= 40
    assert big[0].startswith("15000 changes (over 100): compact plan;")
    assert "+ 10000 to create:" in big and "~ 2000 to update:" in big and "- 3000 to delete:" in big
    assert "  ... and 9992 more" in big and "  ... and 2992 more" in big
    assert "  ~ u00000  (s.yaml:1)  [cron]" in big
    assert sum(line.startswith("  + c") for line in big) == COMPACT_FIRST
    assert big[-1] == "Plan: 10000 to create, 2000 to update, 3000 to delete, 3 unchanged."


def test_compact_on_and_off_by_option() -> None:
    small = render_plan(_plan(2), "text", compact=True).splitlines()
    assert small[0].startswith("compact plan;") and "+ 2 to create:" in small
    full = render_plan(_plan(500), "text", compact=False).splitlines()
    assert len(full) == 500 * 2 + 1


def test_markdown_of_a_huge_plan_stays_under_githubs_comment_limit() -> None:
    assert len(render_plan(_plan(10_000, 5_000, 5_000), "markdown")) < 65_536


REPORT = {"schedule": "n", "task": "t.a", "task_id": "n@manual-1", "queue": None, "warnings": []}


@pytest.mark.parametrize("done", [False, True])
def test_trigger_report_in_every_format(done: bool) -> None:
    report = {**REPORT, **({"state": "SUCCESS", "result": {"ok": 1}} if done else {})}
    assert json.loads(render_report(report, "json"))["task_id"] == "n@manual-1"
    assert render_report(report, "text") == ('SUCCESS {"ok": 1}' if done else "n@manual-1")
    assert render_report(report, "markdown").startswith("### syncd trigger `n`")
    assert render_report(report, "github").startswith("::notice title=syncd trigger n::")
    failed = {**REPORT, "state": "FAILURE", "result": None}
    assert render_report(failed, "github").startswith("::error ")


STATUS = {
    "database": "sqlite:///x.db",
    "revision": None,
    "last_apply": None,
    "schedules": {"managed": 0, "unmanaged": 0, "enabled": 0},
    "drift": ["a"],
    "beat": {"leader": None, "heartbeat": None},
    "workers": [],
    "health": {"healthy": False, "problems": ["no beat leads", "drift: a"], "unreachable": False},
}


def test_status_in_every_format_says_none_not_python_none() -> None:
    text = render_status(STATUS, "text")
    assert "revision:  none (never applied)" in text and "None" not in text
    assert render_status(STATUS, "markdown").startswith("### syncd status\n\n- database:")
    github = render_status(STATUS, "github").splitlines()
    assert github[0].startswith("::warning title=syncd drift::a ")
    assert github[-1].startswith("::notice title=syncd status::database: sqlite:///x.db;")
    assert json.loads(render_status(STATUS, "json"))["revision"] is None


ROWS = [
    Row(
        id=1,
        columns={"name": "a", "task": "t.a", "type": 1, "interval_every": 60},
        managed=True,
        source="schedules/a.yaml:3",
        source_hash=None,
        row_hash=None,
    ),
]


def test_export_json_is_the_same_file_and_markdown_fences_it() -> None:
    as_json = json.loads(exporting.render(ROWS, "json"))
    assert as_json == exporting.data(ROWS)
    assert as_json["version"] == 1 and as_json["schedules"][0]["name"] == "a"
    markdown = exporting.render(ROWS, "markdown")
    assert markdown.startswith("### syncd export: 1 schedule\n\n```yaml\n")


def test_export_modeline_is_relative_to_the_destination(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "schedule.schema.json").write_text("{}")
    deep = tmp_path / "deploy" / "prod" / "schedules"
    deep.mkdir(parents=True)
    assert exporting.modeline(deep) == (
        "# yaml-language-server: $schema=../../../schemas/schedule.schema.json\n"
    )
    assert exporting.modeline(tmp_path) == (
        "# yaml-language-server: $schema=schemas/schedule.schema.json\n"
    )
    assert exporting.modeline(None) == exporting.NO_MODELINE
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    assert exporting.modeline(elsewhere) == exporting.NO_MODELINE


def test_progress_line_reads_phase_spinner_and_seconds() -> None:
    now = [100.0]
    shown = Progress(io.StringIO(), clock=lambda: now[0])
    shown("writing 10000 changes")
    now[0] = 102.345
    assert shown.line(0) == "syncd: writing 10000 changes | 2.3s"
    assert shown.line(1) == "syncd: writing 10000 changes / 2.3s"


def test_progress_that_never_showed_leaves_no_trace() -> None:
    stream = io.StringIO()
    shown = Progress(stream, delay=3600)
    shown.start()
    shown("reading")
    shown.stop()
    assert stream.getvalue() == ""


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_needs_a_terminal_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color_enabled(stream=_Tty()) is True
    assert color_enabled(stream=io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert color_enabled(stream=_Tty()) is False
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: only a non-empty value counts
    assert color_enabled(stream=_Tty()) is True
    with click.Context(click.Command("x"), color=False):
        assert color_enabled(stream=_Tty()) is False

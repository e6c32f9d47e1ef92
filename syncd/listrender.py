"""`syncd list` and `syncd show` in text, json, markdown and github formats (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from syncd.crontext import describe
from syncd.errors import plural
from syncd.listing import View, summary
from syncd.render import GITHUB_ANNOTATION_CAP, escape_data, markdown_cell, paint
from syncd.spec import format_time

_STATE_COLOUR = {"late": "red", "failing": "red", "paused": "yellow", "unschedulable": "red"}
_LIST_COLUMNS = (
    "NAME",
    "STATE",
    "TIMING",
    "NEXT",
    "LAST DUE",
    "LAST",
    "RUNS",
    "FAILS",
    "IN WORDS",
)


def words(v: View) -> str | None:
    return describe(v.timing[len("cron: ") :]) if v.timing.startswith("cron: ") else None


def _json_view(v: View) -> dict[str, Any]:
    return {**v.as_json(), "description": words(v)}


def _when(value: datetime | None) -> str:
    return format_time(value) if value else "-"


def _state_text(v: View) -> str:
    if v.state == "late" and v.late_seconds is not None:
        return f"late {_ago(v.late_seconds)}"
    if v.state == "failing":
        return f"failing x{v.consecutive_failures}"
    return v.state


def _ago(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _scoped(views: Sequence[View]) -> bool:
    """A SCOPE column only when some row has a scope: a table of one repository looks as
    it did before scopes."""
    return any(v.scope is not None for v in views)


def _of_scope(v: View) -> str:
    return f" (scope {v.scope})" if v.scope is not None else ""


def _scopes_summary(views: Sequence[View]) -> str:
    """`; scopes: ops 1, payments 2` (the default scope as `(default)`), when scoped."""
    if not _scoped(views):
        return ""
    counts: dict[str | None, int] = {}
    for v in views:
        counts[v.scope] = counts.get(v.scope, 0) + 1
    order = sorted(counts, key=lambda k: (k is not None, k or ""))
    return "; scopes: " + ", ".join(f"{k or '(default)'} {counts[k]}" for k in order)


def _list_columns(scoped: bool) -> tuple[str, ...]:
    return (_LIST_COLUMNS[0], "SCOPE", *_LIST_COLUMNS[1:]) if scoped else _LIST_COLUMNS


def _row(v: View, scoped: bool = False) -> list[str]:
    return [
        v.name,
        *([v.scope or "-"] if scoped else []),
        _state_text(v),
        v.timing.replace(": ", " ", 1),
        _when(v.next_due),
        _when(v.last_due),
        v.last_outcome,
        str(v.run_count),
        str(v.consecutive_failures),
        words(v) or "-",
    ]


def _summary_line(views: Sequence[View]) -> str:
    counts = summary(views)
    parts = [
        f"{counts[s]} {s}"
        for s in ("late", "failing", "paused", "disabled", "unschedulable")
        if counts[s]
    ]
    return f"{plural(counts['total'], 'schedule')}" + (
        f": {', '.join(parts)}" if parts else ", all ok"
    )


def render_list(views: Sequence[View], fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(
            {"schedules": [_json_view(v) for v in views], "summary": summary(views)}, indent=2
        )
    if fmt == "github":
        flagged = [v for v in views if v.state in ("late", "failing", "unschedulable")]
        lines = [
            f"::warning title=syncd {v.state} {escape_data(v.name)}::"
            + escape_data(
                f"{v.name}{_of_scope(v)} is {_state_text(v)} (last outcome {v.last_outcome})"
            )
            for v in flagged[: GITHUB_ANNOTATION_CAP - 1]
        ]
        return "\n".join(
            [
                *lines,
                "::notice title=syncd list::"
                + escape_data(_summary_line(views) + _scopes_summary(views)),
            ]
        )
    scoped = _scoped(views)
    columns = _list_columns(scoped)
    if fmt == "markdown":
        out = [f"### syncd list: {_summary_line(views)}", ""]
        out.append("| " + " | ".join(c.lower() for c in columns) + " |")
        out.append("|" + "---|" * len(columns))
        out += ["| " + " | ".join(markdown_cell(c) for c in _row(v, scoped)) + " |" for v in views]
        return "\n".join(out) + "\n"
    table = [list(columns), *(_row(v, scoped) for v in views)]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = []
    for n, cells in enumerate(table):
        text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        if n == 0:
            text = paint(text, None, bold=True, color=color)
        else:
            text = paint(text, _STATE_COLOUR.get(views[n - 1].state), color=color)
        lines.append(text)
    lines.append(_summary_line(views))
    return "\n".join(lines)


def _detail_lines(v: View, upcoming: Sequence[datetime]) -> list[str]:
    said = words(v)
    owner = "managed" if v.managed else "made by other means"
    if v.managed and v.scope is not None:
        owner += f" by scope {v.scope}"
    lines = [
        f"schedule:  {v.name} ({owner}; {v.source or 'no source'})",
        f"task:      {v.task}",
        f"timing:    {v.timing}" + (f"  # {said}" if said else "") + f" ({v.timezone})",
        f"state:     {_state_text(v)}",
    ]
    if v.paused is not None:
        end = f"until {v.paused.until}" if v.paused.until else "until resumed"
        by = f" by {v.paused.actor}" if v.paused.actor else ""
        lines.append(f"paused:    {v.paused.reason}{by}; {end}")
    if v.unschedulable:
        lines.append(f"skipped:   the beat cannot schedule it: {v.unschedulable}")
    lines += [
        "next:      " + (", ".join(format_time(t) for t in upcoming) or "none"),
        f"last due:  {_when(v.last_due)} ({v.last_outcome}; {plural(v.run_count, 'run')} in all,"
        f" {v.consecutive_failures} failed in a row)",
    ]
    return lines


def _run_cells(run: Any) -> list[str]:
    took = f"{run.took:g}s" if run.took is not None else "-"
    return [format_time(run.due), run.outcome, took, run.worker or "-", run.task_id]


def _revision_cells(r: Mapping[str, Any]) -> list[str]:
    commit = (r.get("git_commit") or "-")[:12]
    return [
        str(r["id"]),
        format_time(r["created_time"]),
        r.get("kind") or "apply",
        commit,
        r.get("actor") or "-",
    ]


def render_show(
    v: View, revisions: Sequence[Mapping[str, Any]], upcoming: Sequence[datetime], fmt: str
) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "schedule": _json_view(v),
                "next": [format_time(t) for t in upcoming],
                "runs": [r.as_json() for r in v.runs],
                "revisions": [
                    dict(
                        zip(
                            ("revision", "time", "kind", "commit", "actor"),
                            _revision_cells(r),
                            strict=True,
                        )
                    )
                    | {"revision": r["id"], "commit": r.get("git_commit")}
                    for r in revisions
                ],
            },
            indent=2,
        )
    head = _detail_lines(v, upcoming)
    runs = [_run_cells(r) for r in v.runs]
    revs = [_revision_cells(r) for r in revisions]
    if fmt == "github":
        text = "; ".join(" ".join(line.split()) for line in head)
        kind = "warning" if v.state in ("late", "failing", "unschedulable") else "notice"
        return f"::{kind} title=syncd show {escape_data(v.name)}::{escape_data(text)}"
    if fmt == "markdown":
        out = [f"### syncd show `{v.name}`", "", *(f"- {markdown_cell(line)}" for line in head), ""]
        out += ["| due | outcome | took | worker | task id |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(markdown_cell(c) for c in r) + " |" for r in runs]
        out += ["", "| revision | time | kind | commit | actor |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(markdown_cell(c) for c in r) + " |" for r in revs]
        return "\n".join(out) + "\n"
    out = [*head, "", f"last {plural(len(runs), 'run')}:"]
    out += [_columns(r, runs) for r in runs] or ["  none in the dispatch ledger"]
    out += ["", f"revisions that changed it (latest {len(revs)}):"]
    out += [_columns(r, revs) for r in revs] or ["  none"]
    return "\n".join(out)


def _columns(cells: Sequence[str], table: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in table) for i in range(len(cells))]
    return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

"""Rendering plans and diagnostics: text (people), json (programs), markdown (pull-request
comments), github (workflow annotations). Pure functions of their values."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from syncd.errors import Diagnostic
from syncd.guards import Refusal
from syncd.plan import Change, Plan

FORMATS = ("text", "json", "markdown", "github")
GITHUB_ANNOTATION_CAP = 10  # GitHub shows at most 10 annotations of each kind per step
_SYMBOL = {"create": "+", "update": "~", "delete": "-"}


def _value(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False)


# --- diagnostics -----------------------------------------------------------------------


def diagnostics_text(diagnostics: Sequence[Diagnostic]) -> str:
    lines = [str(d) for d in diagnostics]
    if diagnostics:
        files = len({d.path for d in diagnostics})
        n = len(diagnostics)
        lines.append(
            f"{n} error{'s' * (n != 1)} in {files} file{'s' * (files != 1)}; nothing was changed"
        )
    return "\n".join(lines)


def diagnostics_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps(
        {
            "valid": not diagnostics,
            "errors": [
                {
                    "path": d.path,
                    "line": d.line,
                    "column": d.column,
                    "code": d.code,
                    "message": d.message,
                }
                for d in diagnostics
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def diagnostics_github(diagnostics: Sequence[Diagnostic]) -> str:
    """`::error` workflow commands, at most GITHUB_ANNOTATION_CAP per code."""
    seen: Counter[str] = Counter()
    lines = []
    for d in diagnostics:
        seen[d.code] += 1
        if seen[d.code] > GITHUB_ANNOTATION_CAP:
            continue
        lines.append(
            f"::error file={_escape_prop(d.path)},line={d.line},col={d.column},"
            f"title={_escape_prop(d.code)}::{_escape_data(d.message)}"
        )
    hidden = sum(max(0, n - GITHUB_ANNOTATION_CAP) for n in seen.values())
    if hidden:
        lines.append(f"::warning::{hidden} more errors not annotated; see the job summary")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def diagnostics_markdown(diagnostics: Sequence[Diagnostic]) -> str:
    if not diagnostics:
        return "### syncd: schedules are valid\n"
    rows = "\n".join(
        f"| `{d.path}:{d.line}:{d.column}` | `{d.code}` | {_cell(d.message)} |" for d in diagnostics
    )
    return (
        f"### syncd: {len(diagnostics)} error(s), nothing was changed\n\n"
        f"| where | code | message |\n|---|---|---|\n{rows}\n"
    )


def render_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    return {
        "text": diagnostics_text,
        "json": diagnostics_json,
        "github": diagnostics_github,
        "markdown": diagnostics_markdown,
    }[fmt](diagnostics)


# --- plans -----------------------------------------------------------------------------


def plan_dict(
    plan: Plan, revision: int | None = None, refusals: Sequence[Refusal] = ()
) -> dict[str, Any]:
    """The json shape of DESIGN §3; `refused` only when a guard refused the plan."""
    out: dict[str, Any] = {
        "revision": revision,
        "changes": [
            {
                "action": c.action,
                "name": c.name,
                "source": c.source,
                "fields": c.fields,  # already {field: {"old": ..., "new": ...}}
                **({"drift": True} if c.drift else {}),
                **({"adopt": True} if c.adopt else {}),
            }
            for c in plan.changes
        ],
        "summary": plan.summary(),
    }
    if refusals:
        out["refused"] = [{"guard": r.guard, "message": r.message} for r in refusals]
    return out


def _refused_text(refusals: Sequence[Refusal]) -> list[str]:
    return [f"Refused ({r.guard}): {r.message}." for r in refusals] + (
        ["Nothing was changed."] if refusals else []
    )


def _summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"{s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
        f"{s['unchanged']} unchanged"
    )


def _change_text(change: Change) -> list[str]:
    notes = []
    if change.drift:
        notes.append("edited in the database by hand; reverting")
    if change.adopt:
        notes.append("adopting a row made by other means")
    head = f"{_SYMBOL[change.action]} {change.name}"
    if change.source:
        head += f"  ({change.source})"
    if notes:
        head += f"  [{'; '.join(notes)}]"
    lines = [head]
    for name, values in change.fields.items():
        if change.action == "create":
            lines.append(f"    {name}: {_value(values['new'])}")
        elif change.action == "delete":
            lines.append(f"    {name}: {_value(values['old'])}")
        else:
            lines.append(f"    {name}: {_value(values['old'])} -> {_value(values['new'])}")
    return lines


def plan_text(
    plan: Plan,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    if plan.empty:
        return "No changes: the database matches the schedules."
    lines: list[str] = []
    for change in plan.changes:
        lines += _change_text(change)
    verb = "Applied" if applied and not refusals else "Plan"
    tail = f" (revision {revision})" if applied and revision is not None else ""
    lines.append(f"{verb}: {_summary_line(plan)}{tail}.")
    lines += _refused_text(refusals)
    return "\n".join(lines)


def plan_markdown(
    plan: Plan,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    title = "syncd apply" if applied else "syncd plan"
    if plan.empty:
        return f"### {title}: no changes\n\n{plan.unchanged} schedules unchanged.\n"
    out = [f"### {title}: {_summary_line(plan)}", ""]
    if refusals:
        out[0] = f"### {title}: refused, nothing was changed"
        out += [f"> **Refused** (`{r.guard}`): {_cell(r.message)}" for r in refusals]
        out += ["", _summary_line(plan) + ".", ""]
    out.append("| | schedule | source | fields |")
    out.append("|---|---|---|---|")
    for c in plan.changes:
        flags = " (drift)" if c.drift else ""
        out.append(
            f"| {c.action}{flags} | `{c.name}` | `{c.source or ''}` | "
            f"{', '.join(f'`{k}`' for k in c.fields)} |"
        )
    out.append("")
    for c in plan.changes:
        out.append(f"<details><summary>{c.action} <code>{c.name}</code></summary>\n")
        out.append("```diff")
        for name, values in c.fields.items():
            if values["old"] is not None:
                out.append(f"- {name}: {_value(values['old'])}")
            if values["new"] is not None:
                out.append(f"+ {name}: {_value(values['new'])}")
        out.append("```\n</details>\n")
    if applied and revision is not None:
        out.append(f"Recorded as revision {revision}.")
    return "\n".join(out) + "\n"


def plan_github(plan: Plan, refusals: Sequence[Refusal] = ()) -> str:
    lines = [
        f"::error title=syncd refused ({_escape_prop(r.guard)})::"
        f"{_escape_data(r.message)}; nothing was changed"
        for r in refusals
    ]
    for c in plan.changes:
        file, _, line = (c.source or "").rpartition(":")
        where = f" file={_escape_prop(file)},line={line}" if file and line.isdigit() else ""
        detail = ", ".join(c.fields) or "no field changes"
        lines.append(f"::notice{where}::{c.action} {c.name}: {_escape_data(detail)}")
    lines.append(f"::notice::syncd: {_summary_line(plan)}")
    return "\n".join(lines)


def render_plan(
    plan: Plan,
    fmt: str,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
) -> str:
    if fmt == "json":
        return json.dumps(plan_dict(plan, revision, refusals), ensure_ascii=False, indent=2)
    if fmt == "markdown":
        return plan_markdown(plan, applied=applied, revision=revision, refusals=refusals)
    if fmt == "github":
        return plan_github(plan, refusals)
    return plan_text(plan, applied=applied, revision=revision, refusals=refusals)

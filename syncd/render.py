"""Rendering plans and diagnostics: text (people), json (programs), markdown (pull-request
comments), github (workflow annotations). Pure functions of their values."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from syncd.errors import Diagnostic, plural
from syncd.guards import Refusal
from syncd.plan import Change, Plan

GITHUB_ANNOTATION_CAP = 10  # GitHub shows at most 10 annotations of each level per step
# GitHub refuses a pull-request comment of 65 536 characters or more, and a job summary
# over 1 MiB; these budgets leave room for the workflow's marker and a second report.
COMMENT_BUDGET = 60_000
SUMMARY_BUDGET = 500_000
PLAN_DETAIL_LIMIT = 50  # past this many changes, a plan is summarised (counts, first changes)
# Text plans: past this many changes the plan is compact unless --no-compact; a compact plan
# shows this many changes of each action (3 actions x (1 + 8 + 1) lines + 3: one screen).
COMPACT_THRESHOLD = 100
COMPACT_FIRST = 8
COMPACT_DOC = "docs/cli.md#compact-plans"
_SYMBOL = {"create": "+", "update": "~", "delete": "-"}
# terraform's colours: create green, update yellow, delete red (text format, on a TTY only).
_COLOUR = {"create": "green", "update": "yellow", "delete": "red"}


# SGR codes as click.style writes them (foreground first, then bold, one reset): rendering
# stays pure and free of click; the CLI's echo strips them when colour is off.
_FOREGROUND = {"red": 31, "green": 32, "yellow": 33}
_RESET = "\x1b[0m"


def paint(text: str, colour: str | None, *, bold: bool = False, color: bool = True) -> str:
    """The text in a terminal colour (and bold), or as it is when colour is off."""
    if not color or (colour is None and not bold):
        return text
    start = f"\x1b[{_FOREGROUND[colour]}m" if colour else ""
    return start + ("\x1b[1m" if bold else "") + text + _RESET


def _value(value: Any) -> str:
    if value is None:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False)


# --- diagnostics -----------------------------------------------------------------------


def diagnostics_text(diagnostics: Sequence[Diagnostic], *, color: bool = False) -> str:
    lines = [
        f"{paint(f'{d.path}:{d.line}:{d.column}:', None, bold=True, color=color)} "
        f"{paint(f'{d.severity}[{d.code}]:', 'red', bold=True, color=color)} {d.message}"
        for d in diagnostics
    ]
    if diagnostics:
        files = len({d.path for d in diagnostics})
        lines.append(
            f"{plural(len(diagnostics), 'error')} in {plural(files, 'file')}; nothing was changed"
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


def escape_data(text: str) -> str:
    """The message of a GitHub workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def diagnostics_github(diagnostics: Sequence[Diagnostic]) -> str:
    """`::error` workflow commands: GitHub keeps only GITHUB_ANNOTATION_CAP errors a step,
    so at most that many, the first of each code before a second of any; one `::warning`
    counts the rest (the job summary lists them all)."""
    first: list[Diagnostic] = []
    rest: list[Diagnostic] = []
    codes: set[str] = set()
    for d in diagnostics:
        (rest if d.code in codes else first).append(d)
        codes.add(d.code)
    chosen = set((first + rest)[:GITHUB_ANNOTATION_CAP])
    lines = [
        f"::error file={_escape_prop(d.path)},line={d.line},col={d.column},"
        f"title={_escape_prop(d.code)}::{escape_data(d.message)}"
        for d in diagnostics
        if d in chosen
    ]
    hidden = len(diagnostics) - len(lines)
    if hidden:
        lines.append(
            f"::warning::{plural(hidden, 'more error')} not annotated; see the job summary"
        )
    return "\n".join(lines)


def valid_github(count: int) -> str:
    """`validate --format github` with no errors: one notice, so the step says something."""
    return f"::notice title=syncd validate::{plural(count, 'schedule')} valid"


def markdown_cell(text: Any) -> str:
    """Text for one cell of a markdown table (a pipe or a newline would end it)."""
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def diagnostics_markdown(diagnostics: Sequence[Diagnostic], budget: int = SUMMARY_BUDGET) -> str:
    """A table of every error, cut (with a count of the rest) before `budget` characters."""
    if not diagnostics:
        return "### syncd: schedules are valid\n"
    head = (
        f"### syncd: {plural(len(diagnostics), 'error')}, nothing was changed\n\n"
        "| where | code | message |\n|---|---|---|\n"
    )
    rows: list[str] = []
    size = len(head) + 200  # room for the closing line
    for d in diagnostics:
        row = f"| `{d.path}:{d.line}:{d.column}` | `{d.code}` | {markdown_cell(d.message[:2000])} |"
        if size + len(row) + 1 > budget:
            break
        rows.append(row)
        size += len(row) + 1
    tail = ""
    if len(rows) < len(diagnostics):
        tail = (
            f"\n{plural(len(diagnostics) - len(rows), 'more error')} not shown; "
            "run `syncd validate` for the full list.\n"
        )
    return head + "\n".join(rows) + "\n" + tail


def render_diagnostics(diagnostics: Sequence[Diagnostic], fmt: str, *, color: bool = False) -> str:
    if fmt == "text":
        return diagnostics_text(diagnostics, color=color)
    return {
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
        **({"scope": plan.scope} if plan.scope is not None else {}),
        "changes": [
            {
                "action": c.action,
                "name": c.name,
                "source": c.source,
                "fields": c.fields,  # already {field: {"old": ..., "new": ...}}
                **_cron_description(c),
                **({"drift": True} if c.drift else {}),
                **({"adopt": True} if c.adopt else {}),
            }
            for c in plan.changes
        ],
        "summary": plan.summary(),
    }
    if refusals:
        out["refused"] = [{"guard": r.guard, "message": r.message} for r in refusals]
    if plan.paused:
        out["paused"] = [
            {"name": p.name, "reason": p.reason, "actor": p.actor, "until": p.until}
            for p in plan.paused
        ]
    return out


PAUSED_HEAD = (
    "Paused at runtime (not drift; an apply keeps them paused, `syncd resume` ends a pause)"
)


def _paused_lines(plan: Plan, bullet: str) -> list[str]:
    if not plan.paused:
        return []
    return [f"{PAUSED_HEAD}:", *(f"{bullet}{p.describe()}" for p in plan.paused)]


def _cron_description(change: Change) -> dict[str, Any]:
    """`cron_description: {old, new}` in words, on a change that sets or changes cron."""
    values = change.fields.get("cron")
    if not values:
        return {}
    return {"cron_description": {key: _words("cron", values.get(key)) for key in ("old", "new")}}


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


def _change_head(change: Change, color: bool) -> str:
    colour = _COLOUR[change.action]
    head = paint(f"{_SYMBOL[change.action]} {change.name}", colour, bold=True, color=color)
    if change.source:
        head += f"  ({change.source})"
    return head


def _words(field: str, value: Any) -> str | None:
    """A cron value in plain words (syncd.crontext); None for other fields."""
    if field != "cron" or not isinstance(value, str):
        return None
    from syncd.crontext import describe

    return describe(value)


def _cron_comment(field: str, values: Mapping[str, Any], *keys: str) -> str:
    """`  # At 03:00` (or `  # At 02:00 -> At 03:00`) after a cron line; "" otherwise."""
    words = [_words(field, values[key]) for key in keys]
    if not any(words):
        return ""
    return "  # " + " -> ".join(w or "?" for w in words)


def _change_text(change: Change, color: bool = False) -> list[str]:
    notes = []
    if change.drift:
        notes.append("edited in the database by hand; reverting")
    if change.adopt:
        notes.append("adopting a row made by other means")
    head = _change_head(change, color)
    if notes:
        head += f"  [{'; '.join(notes)}]"
    lines = [head]
    mark = paint(_SYMBOL[change.action], _COLOUR[change.action], color=color)
    for name, values in change.fields.items():
        if change.action == "create":
            words = _cron_comment(name, values, "new")
            lines.append(f"  {mark} {name}: {_value(values['new'])}{words}")
        elif change.action == "delete":
            words = _cron_comment(name, values, "old")
            lines.append(f"  {mark} {name}: {_value(values['old'])}{words}")
        else:
            old = paint(_value(values["old"]), "red", color=color)
            new = paint(_value(values["new"]), "green", color=color)
            words = _cron_comment(name, values, "old", "new")
            lines.append(f"  {mark} {name}: {old} -> {new}{words}")
    return lines


def changes_text(changes: Sequence[Change], *, color: bool = False) -> list[str]:
    """The lines of a text plan for these changes, without its summary (`syncd history`)."""
    return [line for change in changes for line in _change_text(change, color)]


def _compact_text(plan: Plan, *, automatic: bool, color: bool) -> list[str]:
    """Counts per action, the first COMPACT_FIRST changes of each, and where the rest are."""
    n = len(plan.changes)
    why = f"{plural(n, 'change')} (over {COMPACT_THRESHOLD}): " if automatic else ""
    lines = [
        paint(
            f"{why}compact plan; see all with --no-compact or --format json ({COMPACT_DOC})",
            None,
            bold=True,
            color=color,
        )
    ]
    by_action: dict[str, list[Change]] = {"create": [], "update": [], "delete": []}
    for change in plan.changes:
        by_action[change.action].append(change)
    verbs = {"create": "to create", "update": "to update", "delete": "to delete"}
    for action, changes in by_action.items():
        if not changes:
            continue
        colour = _COLOUR[action]
        lines.append(
            paint(f"{_SYMBOL[action]} {len(changes)} {verbs[action]}:", colour, color=color)
        )
        for change in changes[:COMPACT_FIRST]:
            fields = f"  [{', '.join(change.fields)}]" if action == "update" else ""
            lines.append("  " + _change_head(change, color) + fields)
        if len(changes) > COMPACT_FIRST:
            lines.append(f"  ... and {len(changes) - COMPACT_FIRST} more")
    return lines


def plan_text(
    plan: Plan,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
    color: bool = False,
    compact: bool | None = None,
) -> str:
    """`compact`: True always, False never, None past COMPACT_THRESHOLD changes."""
    head = [f"Scope: {plan.scope}"] if plan.scope is not None else []
    if plan.empty:
        return "\n".join(
            [*head, "No changes: the database matches the schedules.", *_paused_lines(plan, "  ")]
        )
    lines: list[str] = list(head)
    if compact or (compact is None and len(plan.changes) > COMPACT_THRESHOLD):
        lines += _compact_text(plan, automatic=compact is None, color=color)
    else:
        for change in plan.changes:
            lines += _change_text(change, color)
    verb = "Applied" if applied and not refusals else "Plan"
    tail = f" (revision {revision})" if applied and revision is not None else ""
    lines.append(paint(f"{verb}: {_summary_line(plan)}{tail}.", None, bold=True, color=color))
    lines += [paint(line, "red", bold=True, color=color) for line in _refused_text(refusals)]
    lines += _paused_lines(plan, "  ")
    return "\n".join(lines)


def _details(change: Change) -> str:
    lines = [f"<details><summary>{change.action} <code>{change.name}</code></summary>\n", "```diff"]
    for name, values in change.fields.items():
        if values["old"] is not None:
            lines.append(f"- {name}: {_value(values['old'])}{_cron_comment(name, values, 'old')}")
        if values["new"] is not None:
            lines.append(f"+ {name}: {_value(values['new'])}{_cron_comment(name, values, 'new')}")
    lines.append("```\n</details>\n")
    return "\n".join(lines)


def plan_markdown(
    plan: Plan,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
    limit: int = PLAN_DETAIL_LIMIT,
    budget: int = COMMENT_BUDGET,
    title: str | None = None,
) -> str:
    """A pull-request comment: under `budget` characters whatever the plan's size. Past
    `limit` changes it gives a count per action and the first `limit` changes; field
    details follow while they fit. A refusal leads, and says nothing was changed."""
    title = title or ("syncd apply" if applied else "syncd plan")
    if plan.scope is not None:
        title = f"{title} (scope `{plan.scope}`)"
    paused = _paused_lines(plan, "- ")
    if plan.empty:
        tail = "\n" + "\n".join(paused) + "\n" if paused else ""
        return f"### {title}: no changes\n\n{plural(plan.unchanged, 'schedule')} unchanged.\n{tail}"
    shown = plan.changes[:limit]
    out = [f"### {title}: {_summary_line(plan)}", ""]
    if refusals:
        out[0] = f"### {title}: refused, nothing was changed"
        out += [f"> **Refused** (`{r.guard}`): {markdown_cell(r.message)}" for r in refusals]
        out += ["", _summary_line(plan) + ".", ""]
    if len(shown) < len(plan.changes):
        counts = plan.summary()
        out.append("| action | schedules |")
        out.append("|---|---|")
        out += [f"| {action} | {counts[action]} |" for action in ("create", "update", "delete")]
        out += ["", f"The first {len(shown)} of {len(plan.changes)} changes:", ""]
    out.append("| | schedule | source | fields |")
    out.append("|---|---|---|---|")
    for c in shown:
        flags = " (drift)" if c.drift else ""
        out.append(
            f"| {c.action}{flags} | `{c.name}` | `{markdown_cell(c.source or '')[:300]}` | "
            f"{markdown_cell(', '.join(f'`{k}`' for k in c.fields))} |"
        )
    if len(shown) < len(plan.changes):
        out.append(
            f"| | ... {len(plan.changes) - len(shown)} more | | "
            f"(`syncd plan --format json` lists them all; {COMPACT_DOC}) |"
        )
    out.append("")
    closing = f"Recorded as revision {revision}." if applied and revision is not None else ""
    size = sum(len(line) + 1 for line in out) + len(closing) + 200
    for c in shown:
        if not c.fields:  # an adoption that changes no field; a create in the history
            continue
        block = _details(c)
        if size + len(block) + 1 > budget:
            out.append("Field details of the remaining changes are left out (size limit).\n")
            break
        out.append(block)
        size += len(block) + 1
    if closing:
        out.append(closing)
    if paused:
        out += ["", *paused]
    return "\n".join(out) + "\n"


def _github_words(change: Change) -> str:
    """` (cron: OLD -> NEW)` in words on a change that sets or changes cron (the new one
    alone on a create), empty otherwise."""
    said = _cron_description(change).get("cron_description")
    if not said or change.action == "delete" or said["new"] is None:
        return ""
    old = f"{said['old']} -> " if said["old"] is not None else ""
    return f" (cron: {old}{said['new']})"


def plan_github(plan: Plan, refusals: Sequence[Refusal] = ()) -> str:
    """`::error` per refusal, then `::notice` per change, within GitHub's cap of notices a
    step (the last is the summary, which says how many changes were not annotated)."""
    lines = [
        f"::error title=syncd refused ({_escape_prop(r.guard)})::"
        f"{escape_data(r.message)}; nothing was changed"
        for r in refusals
    ]
    room = GITHUB_ANNOTATION_CAP - 1
    for c in plan.changes[:room]:
        file, _, line = (c.source or "").rpartition(":")
        where = f" file={_escape_prop(file)},line={line}" if file and line.isdigit() else ""
        detail = (", ".join(c.fields) or "no field changes") + _github_words(c)
        lines.append(f"::notice{where}::{c.action} {c.name}: {escape_data(detail)}")
    hidden = len(plan.changes) - room
    more = f" ({plural(hidden, 'change')} not annotated; see the job summary)" if hidden > 0 else ""
    scope = f" in scope {plan.scope}" if plan.scope is not None else ""
    lines.append(f"::notice::syncd: {_summary_line(plan)}{scope}{more}")
    if plan.paused:
        names = ", ".join(p.describe() for p in plan.paused)
        lines.append(f"::notice title=syncd paused::{escape_data(names)}")
    return "\n".join(lines)


def render_plan(
    plan: Plan,
    fmt: str,
    *,
    applied: bool = False,
    revision: int | None = None,
    refusals: Sequence[Refusal] = (),
    color: bool = False,
    compact: bool | None = None,
) -> str:
    """`color` and `compact` concern the text format only: the others are read by programs
    or rendered by GitHub, and are never coloured."""
    if fmt == "json":
        return json.dumps(plan_dict(plan, revision, refusals), ensure_ascii=False, indent=2)
    if fmt == "markdown":
        return plan_markdown(plan, applied=applied, revision=revision, refusals=refusals)
    if fmt == "github":
        return plan_github(plan, refusals)
    return plan_text(
        plan, applied=applied, revision=revision, refusals=refusals, color=color, compact=compact
    )

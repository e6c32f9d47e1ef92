"""`syncd history` and the report of `syncd rollback`: revisions as values and in every
output format. Pure functions of the revision rows (as `store.revision_rows` and
`store.revision_row` read them); a revision's changes are shown as a plan shows them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from syncd.errors import plural
from syncd.plan import Change, Plan
from syncd.render import (
    GITHUB_ANNOTATION_CAP,
    changes_text,
    markdown_cell,
    paint,
    plan_dict,
    plan_markdown,
    render_plan,
)
from syncd.spec import format_time

DEFAULT_COUNT = 20
SHORT_COMMIT = 7
_ACTIONS = ("create", "update", "delete")
REVERT_IN_GIT = (
    "Revert the same change in git too: until then `syncd plan` shows the drift from git, "
    "and the next apply of the files (or `syncd serve` applying a new commit) undoes the "
    "rollback."
)


def kind(row: Mapping[str, Any]) -> str:
    """apply, rollback, pause or resume (an apply's kind is stored as null)."""
    return str(row.get("kind") or "apply")


def entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """One revision as `syncd history --format json` prints it."""
    created = row.get("created_time")
    return {
        "revision": row["id"],
        "time": format_time(created) if isinstance(created, datetime) else created,
        "kind": kind(row),
        "commit": row.get("git_commit"),
        "author": row.get("git_author"),
        "subject": row.get("git_subject"),
        "actor": row.get("actor"),
        "summary": dict(row.get("summary") or {}),
        "note": row.get("note"),
        "scope": row.get("scope"),  # None: the default scope
    }


def counts(summary: Mapping[str, Any]) -> str:
    """`+1 ~2 -0`: created, updated, deleted."""
    return " ".join(f"{s}{summary.get(a, 0)}" for s, a in zip("+~-", _ACTIONS, strict=True))


def _short(commit: str | None) -> str:
    return commit[:SHORT_COMMIT] if commit else "-"


def _scoped(entries: Sequence[Mapping[str, Any]]) -> bool:
    """A scope column only when a revision has a scope: one repository's history reads as
    it did before scopes (as `syncd list`'s SCOPE column)."""
    return any(e["scope"] is not None for e in entries)


def _kind_and_scope(e: Mapping[str, Any]) -> str:
    """`apply`, or `apply, scope payments`."""
    return str(e["kind"]) + (f", scope {e['scope']}" if e["scope"] is not None else "")


# --- the list ----------------------------------------------------------------------------


def render_list(rows: Sequence[Mapping[str, Any]], fmt: str, *, color: bool = False) -> str:
    """The latest revisions, newest first."""
    entries = [entry(r) for r in rows]
    if fmt == "json":
        return json.dumps({"revisions": entries}, ensure_ascii=False, indent=2)
    if fmt == "markdown":
        return _list_markdown(entries)
    if fmt == "github":
        return _list_github(entries)
    if not entries:
        return "No revisions: nothing has been applied to this database yet."
    scoped = _scoped(entries)
    head = ("revision", "time", "kind", *(["scope"] if scoped else []), "commit", "actor",
            "changes", "note")  # fmt: skip
    table = [head] + [
        (
            str(e["revision"]),
            str(e["time"]),
            e["kind"],
            *([e["scope"] or "-"] if scoped else []),
            _short(e["commit"]),
            e["actor"] or "-",
            counts(e["summary"]),
            e["note"] or "",
        )
        for e in entries
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(head) - 1)]
    lines = []
    for n, line in enumerate(table):
        text = "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False))
        text = (text + "  " + line[-1]).rstrip()
        lines.append(paint(text, None, bold=True, color=color) if n == 0 else text)
    return "\n".join(lines)


def _list_markdown(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "### syncd history: no revisions\n"
    scoped = _scoped(entries)
    lines = [
        f"### syncd history: the latest {plural(len(entries), 'revision')}",
        "",
        "| revision | time (UTC) | kind |" + (" scope |" if scoped else "")
        + " commit | actor | changes | note |",
        "|---|---|---|" + ("---|" if scoped else "") + "---|---|---|---|",
    ]  # fmt: skip
    lines += [
        f"| {e['revision']} | {e['time']} | {e['kind']} | "
        + (f"{markdown_cell(e['scope'] or '-')} | " if scoped else "")
        + f"`{_short(e['commit'])}` | "
        f"{markdown_cell(e['actor'])} | {counts(e['summary'])} | {markdown_cell(e['note'])} |"
        for e in entries
    ]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _list_github(entries: Sequence[Mapping[str, Any]]) -> str:
    """A `::notice` a revision, newest first, within GitHub's cap of notices a step."""
    if not entries:
        return "::notice title=syncd history::no revisions"
    room = GITHUB_ANNOTATION_CAP - 1
    lines = [
        f"::notice title=syncd history::revision {e['revision']} ({_kind_and_scope(e)}) at "
        f"{e['time']} "
        f"by {_escape(str(e['actor'] or '-'))}: {counts(e['summary'])}"
        + (f"; {_escape(str(e['note']))}" if e["note"] else "")
        for e in entries[:room]
    ]
    if len(entries) > room:
        lines.append(
            f"::notice title=syncd history::{plural(len(entries) - room, 'more revision')} "
            "not annotated; see --format text or json"
        )
    return "\n".join(lines)


# --- one revision ---------------------------------------------------------------------


def as_plan(row: Mapping[str, Any]) -> Plan:
    """A revision's recorded changes as the plan that made them (a create keeps no values)."""
    changes = [
        Change(
            c["action"],
            c["name"],
            c.get("source"),
            c.get("fields") or {},
            drift=bool(c.get("drift")),
            adopt=bool(c.get("adopt")),
        )
        for c in row.get("changes") or ()
        if c.get("action") in _ACTIONS
    ]
    return Plan(tuple(changes), int((row.get("summary") or {}).get("unchanged", 0)))


def _not_recorded(row: Mapping[str, Any]) -> bool:
    return row.get("changes") is None and kind(row) not in ("pause", "resume")


def render_one(row: Mapping[str, Any], fmt: str, *, color: bool = False) -> str:
    """One revision and its field changes, as a plan shows them."""
    value = entry(row)
    if fmt == "json":
        return json.dumps(
            {"revision": {**value, "changes": row.get("changes")}}, ensure_ascii=False, indent=2
        )
    title = f"revision {value['revision']} ({_kind_and_scope(value)})"
    plan = as_plan(row)
    about = [
        f"time: {value['time']}",
        f"commit: {value['commit'] or '-'}",
        *([f"author: {value['author']}"] if value["author"] else []),
        *([f"subject: {value['subject']}"] if value["subject"] else []),
        f"actor: {value['actor'] or '-'}",
        *([f"note: {value['note']}"] if value["note"] else []),
        *([f"names: {', '.join(row.get('changed_names') or [])}"] if not plan.changes else []),
        *(["changes: not recorded (the revision is older than syncd keeping them)"]
          if _not_recorded(row) else []),
    ]  # fmt: skip
    if fmt == "markdown":
        # The plan's own heading gives the counts; the revision's facts follow it.
        body = plan_markdown(plan, title=f"syncd history: {title}").split("\n", 1)
        head = body[0] if plan.changes else f"### syncd history: {title}"
        rest = body[1] if plan.changes else ""
        return "\n".join([head, "", *(f"- {a}" for a in about)]) + "\n" + rest
    if fmt == "github":
        return (
            f"::notice title=syncd history::{title} at {value['time']} by "
            f"{_escape(str(value['actor'] or '-'))}: {counts(value['summary'])}\n"
            + render_plan(plan, "github")
        )
    lines = [paint(title, None, bold=True, color=color), *(f"  {a}" for a in about)]
    lines += changes_text(plan.changes, color=color)
    summary = value["summary"]
    if summary:
        lines.append(
            f"{summary.get('create', 0)} created, {summary.get('update', 0)} updated, "
            f"{summary.get('delete', 0)} deleted, {summary.get('unchanged', 0)} unchanged."
        )
    return "\n".join(lines)


# --- syncd rollback ---------------------------------------------------------------------


def render_rollback(
    plan: Plan,
    fmt: str,
    *,
    target: int,
    revision: int | None,
    applied: bool,
    color: bool = False,
    compact: bool | None = None,
) -> str:
    """The plan of a rollback like an apply's, and what it was recorded as."""
    if fmt == "json":
        return json.dumps(
            {**plan_dict(plan, revision), "rollback_to": target, "applied": applied},
            ensure_ascii=False,
            indent=2,
        )
    if plan.empty:
        done = (
            f"Nothing to do: the managed schedules are as they were at revision {target}"
            f" (the current revision is {plan.revision})."
        )
        if fmt == "markdown":
            return f"### syncd rollback: nothing to do\n\n{done}\n"
        if fmt == "github":
            return f"::notice title=syncd rollback::{done}"
        return done
    if fmt == "markdown":
        out = plan_markdown(
            plan, applied=applied, revision=revision, title=f"syncd rollback to {target}"
        )
        return out + ("\n" + REVERT_IN_GIT + "\n" if applied else "")
    if fmt == "github":
        return render_plan(plan, "github")
    text = render_plan(
        plan, "text", applied=applied, revision=revision, color=color, compact=compact
    )
    if applied and revision is not None:
        text += f"\nRecorded as revision {revision} (rollback to revision {target})."
    return text

"""The read-only web page of `syncd serve` and `syncd ui`: HTML from values already read
(pure; every value escaped). No write actions, no scripts: search and filters are a GET
form, the load chart is inline SVG drawn here.

Pages: the schedules (search, filter by state, pages of PAGE_SIZE), one schedule (next
fire times in its zone, last runs with outcomes, the revisions that changed it), the
revision history and one revision's changes, and the load chart (runs per minute over the
next 24 hours and per hour over the next week, by the beat's own code: syncd.load).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from syncd.listing import STATES, View, summary
from syncd.listrender import words
from syncd.load import Load, busiest
from syncd.spec import format_time

PAGE_SIZE = 1000
PREFIX = "/ui"

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header .meta{margin-left:auto;opacity:.85}
main{padding:16px 20px}table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#eaeef2;position:sticky;top:0}td.num{text-align:right}
td.t{white-space:normal;min-width:180px}td.t small{display:block;color:#57606a}
.s-ok{color:#1a7f37}.s-late,.s-failing,.s-unschedulable{color:#cf222e;font-weight:600}
.s-paused{color:#9a6700;font-weight:600}.s-disabled{color:#6e7781}
.counts span{margin-right:14px}form{margin:0 0 12px}input,select{font:inherit;padding:3px 6px}
pre{background:#fff;border:1px solid #d0d7de;padding:10px;overflow:auto}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px}dt{font-weight:600}
svg{background:#fff;border:1px solid #d0d7de}.bar{fill:#0969da}.hot{fill:#cf222e}
"""


@dataclass(frozen=True)
class Header:
    """What every page shows on top: the live revision and commit, and the beat leader."""

    revision: int | None
    commit: str | None
    leader: str | None
    heartbeat_age: float | None = None


def link(path: str, **query: Any) -> str:
    given = {k: v for k, v in query.items() if v not in (None, "", 0)}
    return PREFIX + path + ("?" + urlencode(given) if given else "")


def layout(title: str, body: str, header: Header) -> str:
    commit = (header.commit or "-")[:12]
    if header.leader:
        age = (
            f", heartbeat {header.heartbeat_age:g} s ago"
            if header.heartbeat_age is not None
            else ""
        )
        beat = f"beat leader {escape(header.leader)}{age}"
    else:
        beat = '<span class="s-late">no beat leads</span>'
    rev = header.revision if header.revision is not None else "none"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · syncd</title><style>{_CSS}</style></head><body><header>"
        f'<a href="{link("/")}">syncd</a><a href="{link("/revisions")}">revisions</a>'
        f'<a href="{link("/load")}">load</a>'
        f'<span class="meta">revision {rev} · commit <code>{escape(commit)}</code> · {beat}</span>'
        f"</header><main><h2>{escape(title)}</h2>{body}</main></body></html>"
    )


def _when(value: Any) -> str:
    return escape(format_time(value)) if value else "-"


def _state(v: View) -> str:
    text = v.state
    if v.state == "failing":
        text = f"failing ×{v.consecutive_failures}"
    elif v.state == "late" and v.late_seconds is not None:
        text = f"late {timedelta(seconds=int(v.late_seconds))}"
    elif v.state == "paused" and v.paused is not None:
        text = f"paused: {v.paused.reason}"
    return f'<span class="s-{v.state}">{escape(text)}</span>'


def schedules_page(
    views: Sequence[View], header: Header, *, q: str = "", state: str = "", page: int = 1
) -> str:
    """Every schedule, searched (name or task contains `q`) and filtered by state."""
    counts = summary(views)
    needle = q.strip().lower()
    chosen = [
        v
        for v in views
        if (not state or v.state == state)
        and (not needle or needle in v.name.lower() or needle in v.task.lower())
    ]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    options = "".join(
        f'<option value="{s}"{" selected" if s == state else ""}>{s} ({counts[s]})</option>'
        for s in STATES
    )
    form = (
        f'<form method=get action="{link("/")}"><input name=q value="{escape(q)}" '
        'placeholder="name or task" size=30> <select name=state><option value="">every state'
        f" ({counts['total']})</option>{options}</select> <button>show</button></form>"
    )
    tallies = "".join(f'<span class="s-{s}">{counts[s]} {s}</span>' for s in STATES if counts[s])
    rows = "".join(
        "<tr>"
        f'<td><a href="{link("/schedules/" + quote(v.name, safe=""))}">{escape(v.name)}</a></td>'
        f"<td>{_state(v)}</td><td class=t><code>{escape(v.timing)}</code>"
        + (f" <small>{escape(w)}</small>" if (w := words(v)) else "")
        + f"</td><td>{_when(v.next_due)}</td><td>{_when(v.last_due)}</td>"
        f"<td>{escape(v.last_outcome)}</td><td class=num>{v.run_count}</td>"
        f"<td class=num>{v.consecutive_failures}</td><td>{escape(v.task)}</td></tr>"
        for v in shown
    )
    pager = ""
    if pages > 1:
        pager = " ".join(
            f"<b>{n}</b>"
            if n == page
            else f'<a href="{link("/", q=q, state=state, page=n)}">{n}</a>'
            for n in range(1, pages + 1)
        )
        pager = f"<p>page {pager}</p>"
    return layout(
        "Schedules",
        f"<p class=counts>{tallies or 'no schedules'}</p>{form}"
        f"<p>{len(chosen)} shown of {counts['total']}</p>{pager}"
        "<table><tr><th>name</th><th>state</th><th>timing</th><th>next due</th>"
        "<th>last due</th><th>last outcome</th><th>runs</th><th>failures in a row</th>"
        f"<th>task</th></tr>{rows}</table>{pager}",
        header,
    )


_NO_RUNS = "<tr><td colspan=5>none in the dispatch ledger</td></tr>"


def schedule_page(v: View, revisions: Sequence[Mapping[str, Any]], header: Header) -> str:
    said = words(v)
    paused = ""
    if v.paused is not None:
        end = f"until {v.paused.until}" if v.paused.until else "until resumed"
        who = escape(v.paused.actor or "-")
        paused = f"<dt>paused</dt><dd>{escape(v.paused.reason)} ({who}; {escape(end)})</dd>"
    facts = (
        f"<dl><dt>state</dt><dd>{_state(v)}</dd><dt>task</dt><dd>{escape(v.task)}</dd>"
        f"<dt>timing</dt><dd><code>{escape(v.timing)}</code>"
        + (f" — {escape(said)}" if said else "")
        + f"</dd><dt>time zone</dt><dd>{escape(v.timezone)}</dd>{paused}"
        f"<dt>source</dt><dd>{escape(v.source or '-')}"
        f" ({'managed' if v.managed else 'made by other means'})</dd>"
        f"<dt>runs</dt><dd>{v.run_count} in all; last due {_when(v.last_due)}, "
        f"{escape(v.last_outcome)}; {v.consecutive_failures} failed in a row</dd>"
        + (f"<dt>skipped</dt><dd>{escape(v.unschedulable)}</dd>" if v.unschedulable else "")
        + "</dl>"
    )
    upcoming = "".join(f"<li>{_when(t)}</li>" for t in v.next_times) or "<li>none</li>"
    runs = "".join(
        f"<tr><td>{_when(r.due)}</td><td>{escape(r.outcome)}</td>"
        f"<td class=num>{'-' if r.took is None else f'{r.took:g} s'}</td>"
        f"<td>{escape(r.worker or '-')}</td><td><code>{escape(r.task_id)}</code></td></tr>"
        for r in v.runs
    )
    changed = "".join(
        f'<tr><td><a href="{_revision_link(r["id"])}">{r["id"]}</a></td>'
        f"<td>{_when(r.get('created_time'))}</td><td>{escape(r.get('kind') or 'apply')}</td>"
        f"<td><code>{escape((r.get('git_commit') or '-')[:12])}</code></td>"
        f"<td>{escape(r.get('actor') or '-')}</td></tr>"
        for r in revisions
    )
    return layout(
        f"Schedule {v.name}",
        f"{facts}<h3>Next fire times ({escape(v.timezone)})</h3><ol>{upcoming}</ol>"
        "<h3>Last runs</h3><table><tr><th>due</th><th>outcome</th><th>broker to result</th>"
        f"<th>worker</th><th>task id</th></tr>{runs or _NO_RUNS}</table>"
        "<h3>Revisions that changed it</h3><table><tr><th>revision</th><th>time</th>"
        f"<th>kind</th><th>commit</th><th>actor</th></tr>{changed}</table>",
        header,
    )


def _revision_link(number: int) -> str:
    return link(f"/revisions/{number}")


def revisions_page(entries: Sequence[Mapping[str, Any]], header: Header) -> str:
    """`entries`: syncd.history.entry of each revision, newest first."""
    rows = "".join(
        f'<tr><td><a href="{_revision_link(e["revision"])}">{e["revision"]}</a></td>'
        f"<td>{escape(str(e['time'] or '-'))}</td><td>{escape(e['kind'])}</td>"
        f"<td><code>{escape((e['commit'] or '-')[:12])}</code></td>"
        f"<td>{escape(e['actor'] or '-')}</td><td>{escape(_counts(e['summary']))}</td>"
        f"<td>{escape(e['note'] or e['subject'] or '')}</td></tr>"
        for e in entries
    )
    return layout(
        "Revisions",
        "<table><tr><th>revision</th><th>time</th><th>kind</th><th>commit</th><th>actor</th>"
        f"<th>changes</th><th>note</th></tr>{rows}</table>",
        header,
    )


def _counts(summary_: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} {k}" for k, n in summary_.items() if n and k != "unchanged") or "-"


def revision_page(number: int, text: str, header: Header) -> str:
    """`text`: the revision as `syncd history REV` prints it."""
    return layout(f"Revision {number}", f"<pre>{escape(text)}</pre>", header)


def _bars(counts: Sequence[int], width: int, height: int, label: str) -> str:
    top = max(counts) if counts else 0
    step = width / max(len(counts), 1)
    # A herd is a bar far above the usual one: red when it is at least twice the median.
    median = sorted(counts)[len(counts) // 2] if counts else 0
    hot = 0.8 * top if top >= 2 * max(median, 1) else float("inf")
    bars = "".join(
        f'<rect class="{"hot" if n >= hot else "bar"}" x="{i * step:.2f}" '
        f'y="{height - (n / top * height if top else 0):.1f}" width="{max(step - 0.2, 0.5):.2f}" '
        f'height="{(n / top * height if top else 0):.1f}"><title>{i}: {n}</title></rect>'
        for i, n in enumerate(counts)
        if n
    )
    return (
        f'<svg role=img aria-label="{escape(label)}" width="100%" height="{height + 4}" '
        f'viewBox="0 0 {width} {height + 4}" preserveAspectRatio="none">{bars}</svg>'
    )


def load_page(load: Load, header: Header) -> str:
    minutes = _bars(load.per_minute, 1440, 160, "runs per minute, next 24 hours")
    hours = _bars(load.per_hour, 1176, 160, "runs per hour, next 7 days")
    top_minutes = "".join(
        f"<tr><td>{_when(at)}</td><td class=num>{n:,}</td></tr>" for at, n in busiest(load)
    )
    top_hours = "".join(
        f"<tr><td>{_when(at)}</td><td class=num>{n:,}</td></tr>"
        for at, n in busiest(load, hours=True)
    )
    return layout(
        "Load",
        f"<p>{load.schedules:,} schedules; {sum(load.per_minute):,} runs in the next 24 hours "
        f"after {_when(load.after.replace(microsecond=0))}, {sum(load.per_hour):,} in the next "
        "7 days (UTC), computed by the beat's own code. Red: a bar at least twice the median "
        "one (a herd, like many schedules at <code>0 0 * * *</code>).</p>"
        f"<h3>Runs per minute, next 24 hours from {_when(load.minute_start)}</h3>{minutes}"
        f"<h3>Runs per hour, next 7 days from {_when(load.hour_start)}</h3>{hours}"
        "<h3>Busiest minutes</h3><table><tr><th>minute</th><th>runs</th></tr>"
        f"{top_minutes}</table><h3>Busiest hours</h3><table><tr><th>hour</th><th>runs</th></tr>"
        f"{top_hours}</table>",
        header,
    )


def not_found(message: str, header: Header) -> str:
    return layout("Not found", f"<p>{escape(message)}</p>", header)

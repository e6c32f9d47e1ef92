"""Renderers: the json contract, GitHub's annotation cap, readable text."""

from __future__ import annotations

import json

from syncd.errors import Diagnostic
from syncd.plan import make_plan
from syncd.render import render_diagnostics, render_plan
from syncd.spec import Schedule, Source


def test_json_shape_is_the_contract() -> None:
    plan = make_plan([Schedule("a", "t.a", every=30, source=Source("s.yaml", 4))], [])
    data = json.loads(render_plan(plan, "json", revision=7))
    assert data == {
        "revision": 7,
        "changes": [
            {
                "action": "create",
                "name": "a",
                "source": "s.yaml:4",
                "fields": {
                    "task": {"old": None, "new": "t.a"},
                    "every": {"old": None, "new": "30s"},
                },
            }
        ],
        "summary": {"create": 1, "update": 0, "delete": 0, "unchanged": 0},
    }


def test_text_diagnostics_format() -> None:
    d = Diagnostic("schedules/a.yaml", 3, 5, "cron.never-fires", "cron '0 0 31 2 *' can never fire")
    out = render_diagnostics([d], "text").splitlines()
    assert (
        out[0] == "schedules/a.yaml:3:5: error[cron.never-fires]: cron '0 0 31 2 *' can never fire"
    )
    assert "nothing was changed" in out[-1]


def test_github_annotations_are_capped_per_level_first_of_each_code_first() -> None:
    diags = [Diagnostic("a.yaml", i, 1, "schema.type", f"bad {i}") for i in range(1, 15)]
    diags.append(Diagnostic("a,b.yaml", 1, 2, "yaml.syntax", "100% bad\nreally"))
    lines = render_diagnostics(diags, "github").splitlines()
    assert sum(line.startswith("::error") for line in lines) == 10  # GitHub's cap a step
    assert "::error file=a%2Cb.yaml,line=1,col=2,title=yaml.syntax::100%25 bad%0Areally" in lines
    assert lines[-1].startswith("::warning::5 more errors")


def test_markdown_plan_mentions_every_change() -> None:
    plan = make_plan([Schedule("a", "t.a", every=30), Schedule("b", "t.b", cron="@daily")], [])
    md = render_plan(plan, "markdown")
    assert "`a`" in md and "`b`" in md and "2 to create" in md


def test_empty_plan_text() -> None:
    assert "No changes" in render_plan(make_plan([], []), "text")

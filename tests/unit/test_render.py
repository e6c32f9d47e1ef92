"""Renderers: the json contract, GitHub's annotation cap, readable text."""

from __future__ import annotations

import json

from syncd.errors import Diagnostic
from syncd.plan import Plan, Row, make_plan
from syncd.render import render_diagnostics, render_plan
from syncd.spec import Schedule, Source, row_hash, row_values


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


def _cron_change() -> Plan:
    """A plan that moves `nightly` from 02:00 to 03:00 and creates a weekday job."""
    old = Schedule("nightly", "t.a", cron="0 2 * * *")
    stored = Row(1, row_values(old), True, "s.yaml:3", "h", row_hash(row_values(old)))
    return make_plan(
        [
            Schedule("nightly", "t.a", cron="0 3 * * *"),
            Schedule("weekdays", "t.b", cron="30 8 * * mon-fri"),
        ],
        [stored],
    )


def test_cron_in_words_in_text_markdown_and_json() -> None:
    plan = _cron_change()
    text = render_plan(plan, "text")
    assert '~ cron: "0 2 * * *" -> "0 3 * * *"  # At 02:00 -> At 03:00' in text
    assert '+ cron: "30 8 * * mon-fri"  # At 08:30, Monday through Friday' in text
    md = render_plan(plan, "markdown")
    assert '- cron: "0 2 * * *"  # At 02:00' in md and '+ cron: "0 3 * * *"  # At 03:00' in md
    changes = {c["name"]: c for c in json.loads(render_plan(plan, "json"))["changes"]}
    assert changes["nightly"]["cron_description"] == {"old": "At 02:00", "new": "At 03:00"}
    assert changes["weekdays"]["cron_description"]["new"] == "At 08:30, Monday through Friday"


def test_cron_in_words_in_the_github_annotations() -> None:
    """`--format github` (the workflow's annotations on the pull request) words the cron
    too: old -> new on an update, the new one on a create."""
    bodies = [line.split("::", 2)[2] for line in render_plan(_cron_change(), "github").splitlines()]
    notices = {body.split(":")[0]: body for body in bodies}
    assert notices["update nightly"] == "update nightly: cron (cron: At 02:00 -> At 03:00)"
    assert notices["create weekdays"].endswith("(cron: At 08:30, Monday through Friday)")


def test_an_interval_change_has_no_words() -> None:
    plan = make_plan([Schedule("a", "t.a", every=30)], [])
    assert "#" not in render_plan(plan, "text")
    assert "(cron:" not in render_plan(plan, "github")
    assert "cron_description" not in json.loads(render_plan(plan, "json"))["changes"][0]

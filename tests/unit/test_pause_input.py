"""`syncd pause`'s input and output without a database: --until, --reason, the reports,
and which pause rows hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from syncd.errors import UsageError
from syncd.pauses import Outcome, check_reason, parse_until, render
from syncd.plan import paused_now

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        ("1d12h", NOW + timedelta(hours=36)),
        ("2026-12-03T10:00:00+01:00", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
        ("2026-12-04T00:00:00Z", datetime(2026, 12, 4, tzinfo=UTC)),
    ],
)
def test_until_is_an_instant_or_a_duration_from_now(text: str, expected: datetime) -> None:
    assert parse_until(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tomorrow", "RFC 3339"),
        ("2026-12-04T00:00:00", "RFC 3339"),  # no offset: which zone?
        ("0s", "RFC 3339"),
        ("2026-12-03T07:59:59Z", "not in the future"),
        ("2026-12-03T08:00:00Z", "not in the future"),
    ],
)
def test_a_bad_until_is_a_usage_error_naming_the_value(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_until(text, NOW)
    assert says in caught.value.message and repr(text) in caught.value.message


def test_a_reason_is_required_and_bounded() -> None:
    assert check_reason("  incident 42 ") == "incident 42"
    for bad in ("", "   ", "x" * 1001):
        with pytest.raises(UsageError):
            check_reason(bad)


def test_only_pauses_that_hold_of_schedules_in_the_table_are_shown() -> None:
    rows = {
        "held": {"reason": "r", "actor": "a", "until_time": None},
        "ends": {"reason": "r", "actor": None, "until_time": NOW + timedelta(seconds=1)},
        "ended": {"reason": "r", "actor": None, "until_time": NOW},
        "gone": {"reason": "r", "actor": None, "until_time": None},
    }
    shown = paused_now(rows, {"held", "ends", "ended"}, NOW)
    assert [p.name for p in shown] == ["ends", "held"]
    assert shown[0].until == "2026-12-03T08:00:01+00:00"
    assert shown[1].describe() == "held (r, by a; until resumed)"


def test_reports_in_every_format() -> None:
    paused = Outcome("pause", ["a", "b"], 7, "incident", NOW, replaced=["b"])
    resumed = Outcome("resume", ["a", "c"], 8, not_paused=["c"])
    idle = Outcome("resume", ["c"], None, not_paused=["c"])
    assert render(paused, "text") == (
        "paused 2 schedules until 2026-12-03T08:00:00+00:00: a, b (already paused, reason "
        "and end replaced: b) (revision 7)\nreason: incident"
    )
    assert render(resumed, "text") == (
        "resumed 1 schedule: a; not paused, nothing to resume: c (revision 8)"
    )
    assert render(idle, "text") == "not paused, nothing to resume: c"
    assert json.loads(render(paused, "json"))["until"] == "2026-12-03T08:00:00+00:00"
    assert render(resumed, "github").startswith("::notice title=syncd resume::resumed 1")
    assert render(paused, "markdown").startswith("### syncd pause\n\n- `a`\n- `b`")

"""The one did-you-mean of syncd (schema keys, time zones, task names, schedule names)."""

from __future__ import annotations

from syncd.errors import closest, did_you_mean


def test_a_close_spelling_is_suggested() -> None:
    assert did_you_mean("nightly-reprot", ["nightly-report", "heartbeat"]) == (
        "; did you mean 'nightly-report'?"
    )


def test_case_is_tried_before_spelling() -> None:
    zones = ["UTC", "Europe/Berlin", "Etc/UTC", "US/Eastern"]
    assert closest("utc", zones) == ["UTC"]
    assert closest("europe/berlin", zones) == ["Europe/Berlin"]


def test_nothing_close_says_nothing() -> None:
    assert did_you_mean("zzz", ["nightly-report"]) == ""
    assert did_you_mean("x", []) == ""


def test_several_suggestions_read_as_a_choice() -> None:
    names = ["report-a", "report-b", "report-c", "other"]
    text = did_you_mean("report-x", names, n=3, lead=" ")
    assert text == " did you mean 'report-a' or 'report-b' or 'report-c'?"

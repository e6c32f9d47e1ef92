"""Run information from the beat's headers, and logs that carry the schedule name."""

from __future__ import annotations

import logging

import pytest

from celeryapp.tasklog import RunInfo, schedule_logger

DUE = "2026-03-08T07:00:00Z"


def test_a_beat_run() -> None:
    run = RunInfo.from_headers(
        {"syncd_schedule": "report", "syncd_due": DUE, "syncd_overlap": "skip"}
    )
    assert run == RunInfo(schedule="report", due=DUE, overlap="skip", manual=False)
    assert run.is_beat_run
    assert run.label() == f"schedule=report due={DUE}"


def test_a_manual_run_is_not_a_beat_run() -> None:
    run = RunInfo.from_headers({"syncd_schedule": "report", "syncd_trigger": "manual"})
    assert run.manual
    assert not run.is_beat_run
    assert run.label() == "schedule=report due=manual"


@pytest.mark.parametrize("headers", [None, {}, {"syncd_due": DUE}, {"other": "x"}])
def test_a_task_sent_by_other_means(headers: dict[str, str] | None) -> None:
    run = RunInfo.from_headers(headers)
    assert run.schedule is None
    assert run.overlap == "allow"
    assert not run.is_beat_run
    assert run.label() == ""


def test_logs_name_the_schedule_and_due_time(caplog: pytest.LogCaptureFixture) -> None:
    log = schedule_logger(RunInfo(schedule="report", due=DUE), logging.getLogger("t"))
    with caplog.at_level(logging.INFO, logger="t"):
        log.info("sent %d mails", 3)
    record = caplog.records[0]
    assert record.getMessage() == f"[schedule=report due={DUE}] sent 3 mails"
    assert (record.schedule, record.due) == ("report", DUE)  # type: ignore[attr-defined]


def test_logs_of_tasks_without_a_schedule_are_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = schedule_logger(RunInfo(), logging.getLogger("t"))
    with caplog.at_level(logging.INFO, logger="t"):
        log.info("plain")
    assert caplog.records[0].getMessage() == "plain"

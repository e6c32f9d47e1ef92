"""Task logs that name the schedule and due time a run belongs to.

Celery's task formatter already prints the task name and id; an operator looking for "why
did nightly-report not run at 02:00" searches by schedule, so every line a task or the base
class logs carries `schedule=NAME due=DUE` (also as record attributes for JSON log shippers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celeryapp.schedules import format_due, to_utc

HEADER_SCHEDULE = "syncd_schedule"
HEADER_DUE = "syncd_due"
HEADER_OVERLAP = "syncd_overlap"
HEADER_TRIGGER = "syncd_trigger"
HEADER_BEAT = "syncd_beat"
# With `jitter`: the instant the beat published the run (due + the schedule's offset).
HEADER_FIRE = "syncd_fire"

logger = logging.getLogger("celeryapp.task")


def headers(
    schedule: str, overlap: str, *, due: datetime | None, beat: str | None = None
) -> dict[str, str]:
    """The headers a run's message carries; `RunInfo.from_headers` reads them back.

    `due` None: a manual run (`syncd trigger`), not subject to the once-only check."""
    out = {HEADER_SCHEDULE: schedule, HEADER_OVERLAP: overlap}
    if due is None:
        out[HEADER_TRIGGER] = "manual"
    else:
        out[HEADER_DUE] = format_due(due)
    if beat is not None:
        out[HEADER_BEAT] = beat
    return out


def format_fire(instant: datetime) -> str:
    """A fire time as the `syncd_fire` header writes it: RFC 3339 UTC, milliseconds."""
    return to_utc(instant).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class RunInfo:
    """What the beat (or `syncd trigger`) said about a run, read from the message headers."""

    schedule: str | None = None
    due: str | None = None
    overlap: str = "allow"
    manual: bool = False

    @classmethod
    def from_headers(cls, headers: Mapping[str, Any] | None) -> RunInfo:
        headers = headers or {}
        schedule = headers.get(HEADER_SCHEDULE)
        due = headers.get(HEADER_DUE)
        return cls(
            schedule=str(schedule) if schedule else None,
            due=str(due) if due else None,
            overlap=str(headers.get(HEADER_OVERLAP) or "allow"),
            manual=headers.get(HEADER_TRIGGER) == "manual",
        )

    @property
    def is_beat_run(self) -> bool:
        """A run the beat dispatched for one due time: subject to once-only execution."""
        return self.schedule is not None and self.due is not None and not self.manual

    def label(self) -> str:
        if self.schedule is None:
            return ""
        due = "manual" if self.manual else (self.due or "-")
        return f"schedule={self.schedule} due={due}"


class ScheduleLogger(logging.LoggerAdapter[logging.Logger]):
    """Prefixes messages with the run's schedule and due time, and adds them as attributes."""

    def __init__(self, base: logging.Logger, run: RunInfo) -> None:
        super().__init__(base, {"schedule": run.schedule, "due": run.due})
        self.run = run

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        label = self.run.label()
        return (f"[{label}] {msg}" if label else msg), kwargs


def schedule_logger(run: RunInfo, base: logging.Logger | None = None) -> ScheduleLogger:
    return ScheduleLogger(base or logger, run)

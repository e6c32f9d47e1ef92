"""The next fire times of a timetable, for tests that compare them with another scheduler's."""

from __future__ import annotations

from datetime import datetime

from celeryapp.schedules import Timetable


def fire_times(timetable: Timetable, after: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    due = timetable.next_after(after)
    while due is not None and len(out) < count:
        out.append(due)
        due = timetable.next_after(due)
    return out

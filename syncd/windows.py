"""Deny windows (DESIGN §8): `--deny-window CRON DURATION` — automatic syncs are refused
from each time the cron fires until DURATION later (a change freeze on Friday evenings:
`--deny-window "0 17 * * fri" 63h`). The cron is evaluated by the beat's own code, in the
window's time zone (the app's default), so DST follows the same rules as the schedules.

Pure: the instant is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from celeryapp.schedules import CronError, CronTimetable
from syncd.spec import format_duration, parse_duration


class WindowError(ValueError):
    """A --deny-window that is not a cron expression and a duration."""


@dataclass(frozen=True)
class DenyWindow:
    cron: str
    seconds: int
    timezone: str = "UTC"

    @classmethod
    def parse(cls, cron: str, duration: str, timezone: str = "UTC") -> DenyWindow:
        seconds = parse_duration(duration.strip())
        if seconds is None or seconds < 1:
            raise WindowError(
                f"--deny-window {cron!r} {duration!r}: {duration!r} is not a duration "
                "(like 2h or 1d12h; units d, h, m, s, at least 1s)"
            )
        try:
            CronTimetable(cron, ZoneInfo(timezone))
        except CronError as exc:
            raise WindowError(f"--deny-window {cron!r} {duration!r}: {exc}") from None
        return cls(cron, seconds, timezone)

    def describe(self) -> str:
        return f"{self.cron} for {format_duration(self.seconds)} ({self.timezone})"

    def open_until(self, now: datetime) -> datetime | None:
        """When the window that contains `now` closes; None when `now` is outside it."""
        timetable = CronTimetable(self.cron, ZoneInfo(self.timezone))
        start = timetable.latest_at_or_before(now)
        # A window longer than the cron's period overlaps the next one: walk forward from
        # the latest start while the windows chain, so the end reported is the real one.
        if start is None:
            return None
        # Durations are elapsed time: add them in UTC (aware arithmetic in a zone is wall
        # time, 30 minutes after 01:30 EDT on the fall-back day would be 02:00 EST).
        start = start.astimezone(UTC)
        length = timedelta(seconds=self.seconds)
        end = start + length
        if now >= end:
            return None
        for _ in range(1000):
            following = timetable.next_after(start)
            if following is None or following > end:
                break
            start = following.astimezone(UTC)
            end = max(end, start + length)
        return end


def denied_until(
    windows: tuple[DenyWindow, ...], now: datetime
) -> tuple[DenyWindow, datetime] | None:
    """The open window (the one closing last) at `now`, or None."""
    found = [(w, end) for w in windows if (end := w.open_until(now)) is not None]
    return max(found, key=lambda item: item[1]) if found else None

"""`syncd pause NAME… --reason TEXT [--until T]` and `syncd resume NAME…`: stop dispatching
schedules now, without a commit, and start again by hand or at an instant.

A pause is a row in its own table (who, when, why, until when), written under the apply
lock with a revision that names the schedules, then signalled like an apply: a beat
stops sending within one tick and resumes by itself at `until` (celeryapp.beatcore). It is
not drift: an apply neither undoes it nor reports it as a change, so an emergency stop
survives the next deploy. The due times a pause covers are missed runs; on resume the
schedule's `catchup` decides whether the newest of them fires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celeryapp.codec import parse_duration
from celeryapp.settings import Settings
from syncd.errors import (
    ServiceUnavailable,
    UnknownSchedule,
    UsageError,
    did_you_mean,
    plural,
)
from syncd.rules import parse_time

# A reason is for people reading `list` and the page, not a document.
REASON_LENGTH = 1000


def parse_until(value: str, now: datetime) -> datetime:
    """`--until`: an RFC 3339 instant or a duration from now (`30m`, `2h`, `1d12h`)."""
    seconds = parse_duration(value)
    until = now + timedelta(seconds=seconds) if seconds else parse_time(value)
    if until is None:
        raise UsageError(
            f"--until {value!r}: write an RFC 3339 time with an offset, like "
            "2026-03-08T06:00:00+01:00, or a duration from now, like 30m or 2h"
        )
    if until <= now:
        raise UsageError(
            f"--until {value!r} is not in the future (now is {now.isoformat()}); "
            "a pause that has already ended pauses nothing"
        )
    return until


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise UsageError("--reason is empty: say why, for whoever finds the schedule paused")
    if len(text) > REASON_LENGTH:
        raise UsageError(f"--reason is {len(text)} characters long; keep it to {REASON_LENGTH}")
    return text


@dataclass
class Outcome:
    """What a pause or resume did, for every output format."""

    action: str  # "pause" | "resume"
    names: list[str]
    revision: int | None
    reason: str | None = None
    until: datetime | None = None
    replaced: list[str] = field(default_factory=list)  # pause: were paused already
    not_paused: list[str] = field(default_factory=list)  # resume: nothing to resume

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "names": self.names,
            "revision": self.revision,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "replaced": self.replaced,
            "not_paused": self.not_paused,
        }

    def summary(self) -> str:
        if self.action == "pause":
            until = f" until {self.until.isoformat()}" if self.until else " until resumed"
            text = f"paused {plural(len(self.names), 'schedule')}{until}: {', '.join(self.names)}"
            if self.replaced:
                text += f" (already paused, reason and end replaced: {', '.join(self.replaced)})"
        else:
            done = [n for n in self.names if n not in self.not_paused]
            text = f"resumed {plural(len(done), 'schedule')}: {', '.join(done)}" if done else ""
            if self.not_paused:
                idle = f"not paused, nothing to resume: {', '.join(self.not_paused)}"
                text = f"{text}; {idle}" if text else idle
        if self.revision is not None:
            text += f" (revision {self.revision})"
        return text


def render(outcome: Outcome, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(outcome.as_json(), indent=2)
    text = outcome.summary()
    if fmt == "github":
        return f"::notice title=syncd {outcome.action}::{text}"
    if fmt == "markdown":
        lines = [f"### syncd {outcome.action}", ""]
        lines += [f"- `{name}`" for name in outcome.names]
        if outcome.reason:
            lines += ["", f"Reason: {outcome.reason}"]
        return "\n".join([*lines, "", text])
    if outcome.reason:
        text += f"\nreason: {outcome.reason}"
    return text


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _check_names(known: Sequence[str], names: Sequence[str]) -> None:
    missing = [n for n in names if n not in set(known)]
    if not missing:
        return
    if not known:
        raise UnknownSchedule(
            f"no schedule named {missing[0]!r}: the database has no schedules yet "
            "(run `syncd apply`)"
        )
    raise UnknownSchedule(
        "; ".join(
            f"no schedule named {n!r} in the database{did_you_mean(n, known, n=3)}" for n in missing
        )
        + " (nothing was paused or resumed)"
    )


def change(
    settings: Settings,
    action: str,
    names: Sequence[str],
    *,
    actor: str,
    reason: str | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    lock_timeout: float,
    warn: Callable[[str], None],
) -> Outcome:
    """Pause or resume `names` in one transaction under the apply lock, then signal."""
    from syncd import store
    from syncd.store.pausing import delete_pauses, write_pauses
    from syncd.sync import Signal, signal

    at = now or datetime.now(UTC).replace(microsecond=0)
    wanted = _unique(names)
    info = store.RevisionInfo(now=at, actor=actor)
    try:
        store.migrate(settings.database_url, lock_timeout)
        with store.write_transaction(settings.database_url, lock_timeout) as conn:
            _check_names(store.schedule_names(conn), wanted)
            before = store.pauses(conn)
            if action == "pause":
                assert reason is not None
                revision: int | None = write_pauses(
                    conn, wanted, reason=reason, until=until, info=info
                )
                held = [n for n in wanted if n in before]
                outcome = Outcome("pause", wanted, revision, reason, until, replaced=held)
            else:
                revision = delete_pauses(conn, wanted, info=info)
                idle = [n for n in wanted if n not in before]
                outcome = Outcome("resume", wanted, revision, not_paused=idle)
    except store.DatabaseError as exc:
        raise ServiceUnavailable.at(f"{action} schedules in", settings.database_url, exc) from exc
    signal(Signal(settings.redis_url, settings.redis_prefix, warn=warn), revision)
    return outcome


__all__ = ["Outcome", "change", "check_reason", "parse_until", "render"]

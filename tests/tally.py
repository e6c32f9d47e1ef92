"""Read what `tests.tally_task` counted: messages received and executions, per task id.

The counts live in files the worker appends to, so they show what a result table keyed by
task id hides: a second message or a second execution of the same id.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from tests.tally_task import EXECUTED, OPTIONS, QUIET_TASK, RECEIVED, STARTED, TALLY_TASK

__all__ = ["QUIET_TASK", "TALLY_TASK", "Tally", "due_of", "schedule_of"]


def due_of(task_id: str) -> float:
    """The due time a task id names (NAME@2026-03-08T07:00:00Z), as a timestamp."""
    stamp = task_id.rsplit("@", 1)[1]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def schedule_of(task_id: str) -> str:
    return task_id.rsplit("@", 1)[0]


def sender_pid(sender: str) -> int | None:
    """The pid in a `syncd_beat` header (hostname:pid), if the beat sent one."""
    _, _, pid = sender.rpartition(":")
    return int(pid) if pid.isdigit() else None


@dataclass(frozen=True)
class Message:
    task_id: str
    received: float
    sender: str  # the `syncd_beat` header, "-" when the beat did not set one
    fire: str = "-"  # the `syncd_fire` header (a jittered schedule), "-" when absent


def _lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Tally:
    folder: Path

    def messages(self) -> list[Message]:
        return [Message(p[0], float(p[1]), p[2], *p[3:4]) for p in _lines(self.folder / RECEIVED)]

    def options(self) -> dict[str, list[dict[str, Any]]]:
        """Per task id, the priority and `x-` headers of each message the worker received."""
        path = self.folder / OPTIONS
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in path.read_text().splitlines() if path.exists() else []:
            tid, _, options = line.partition(" ")
            out[tid].append(json.loads(options))
        return dict(out)

    def received(self) -> Counter[str]:
        return Counter(m.task_id for m in self.messages())

    def executed(self) -> Counter[str]:
        return Counter(p[0] for p in _lines(self.folder / EXECUTED))

    def spans(self) -> list[tuple[str, float, float]]:
        """(task id, start, end) of every finished execution, by start."""
        ends = {p[0]: float(p[1]) for p in _lines(self.folder / EXECUTED)}
        starts = [(p[0], float(p[1])) for p in _lines(self.folder / STARTED)]
        return sorted(
            ((tid, at, ends[tid]) for tid, at in starts if tid in ends), key=lambda s: s[1]
        )

    def first_received_after(self, instant: float) -> float | None:
        return min((m.received for m in self.messages() if m.received > instant), default=None)

    def settled(self) -> bool:
        """Every message received so far has been executed or dropped as a duplicate."""
        return set(self.received()) <= set(self.executed())

    def violations(self, kills: Mapping[int, float] | None = None) -> list[str]:
        """Every task id breaking "one message, one execution", with what was seen.

        Two messages are allowed for one id only in the case the design accepts: the beat
        that sent the first was killed (pid -> kill instant in `kills`) at or after the due
        time, and a different beat republished it. Executions must always be exactly one.
        """
        kills = kills or {}
        senders: dict[str, list[str]] = defaultdict(list)
        for message in self.messages():
            senders[message.task_id].append(message.sender)
        executed = self.executed()
        bad = []
        for tid in sorted(set(senders) | set(executed)):
            sent = senders.get(tid, [])
            if executed[tid] != 1:
                bad.append(f"{tid}: executed {executed[tid]}x, {len(sent)} message(s) {sent}")
            elif len(sent) == 2 and not republished(tid, sent, kills):
                bad.append(f"{tid}: 2 messages {sent}, not a republish after a kill")
            elif len(sent) not in (1, 2):
                bad.append(f"{tid}: {len(sent)} messages {sent}")
        return bad

    def summary(self, label: str, extra: str = "") -> str:
        """One line: ids, messages per id and executions per id as {count: ids}."""
        received, executed = self.received(), self.executed()
        ids = set(received) | set(executed)
        per_message = Counter(received[t] for t in ids)
        per_execution = Counter(executed[t] for t in ids)
        line = (
            f"ONCE | {label} | {len(ids)} task ids | messages per id "
            f"{dict(sorted(per_message.items()))} | executions per id "
            f"{dict(sorted(per_execution.items()))}"
        )
        return f"{line} | {extra}" if extra else line


def republished(task_id: str, senders: list[str], kills: Mapping[int, float]) -> bool:
    """Two messages from two beats, one of them killed at or after the due time."""
    pids = {sender_pid(s) for s in senders}
    if None in pids or len(pids) != 2:
        return False
    return any(pid in kills and due_of(task_id) <= kills[pid] for pid in pids if pid)


def due_times(task_ids: Iterable[str]) -> dict[str, list[float]]:
    """Sorted due times per schedule."""
    out: dict[str, list[float]] = defaultdict(list)
    for tid in task_ids:
        out[schedule_of(tid)].append(due_of(tid))
    return {name: sorted(dues) for name, dues in out.items()}


def longest_gaps(task_ids: Iterable[str]) -> dict[str, float]:
    """The longest distance between two consecutive due times that ran, per schedule."""
    return {
        name: max((b - a for a, b in pairwise(dues)), default=0.0)
        for name, dues in due_times(task_ids).items()
    }


def quiesce(tally: Tally, timeout: float = 120.0, still: float = 2.0) -> None:
    """Wait until the worker has received nothing new for `still` seconds and executed (or
    dropped) everything it received: call it after the beats have stopped."""
    deadline = time.monotonic() + timeout
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(tally.messages())
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since >= still and tally.settled():
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker did not settle in {timeout}s ({seen} messages)")


def tally_schedule(name: str, timing: str, task: str = TALLY_TASK, **fields: str) -> str:
    """One schedule item of the tally task; `timing` is `every: 1s` or `cron: '* * * * *'`."""
    extra = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    return f"  - name: {name}\n    task: {task}\n    {timing}\n{extra}"


def tally_env(env: Mapping[str, str], folder: Path) -> dict[str, str]:
    """A worker/beat environment whose tally task writes into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return {**env, "SYNCD_TALLY_DIR": str(folder)}

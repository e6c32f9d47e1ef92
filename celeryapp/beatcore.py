"""The beat's decisions, with time passed in and no I/O: what is due, and what comes next.

`scheduler.py` is the shell around this: it holds the lock, reads rows, claims runs in the
dispatch ledger and publishes them, and tells the core what happened. The core keeps the
loaded entries and a heap of when to look at each of them again; every rule about which
due time fires lives in `dueplan`, applied here.

Invariants the core keeps by construction, whatever the shell calls in whatever order:

* at most one pending due time per schedule (its *slot*); a heap item whose slot was
  replaced or removed is stale and skipped when popped;
* a schedule whose run was handed out by `pop_due` has no slot until the shell reports
  the outcome (`done` or `failed`), so one batch never holds a schedule twice, and no
  (schedule, due time) is handed out twice by one core;
* every due time handed out is at or before the `now` it was popped at, inside the
  schedule's start/expiry, after its baseline (the last due time done, or the moment its
  timing last changed), and either on time or chosen by `catchup`.

Jitter (celeryapp.jitter): a slot's `at` is its due time's fire time, due + the entry's
offset, and every rule is asked at `now - offset` (`Entry.shifted`), so a jittered
schedule behaves exactly like an unjittered one on a clock running `offset` behind; a
run handed out keeps its nominal `due` (the task id and ledger key). "At or before the
`now` it was popped at" above holds for the fire time, so for the due time too.

A paused schedule (celeryapp.pausing) keeps its entry, and so its baseline, but has no
slot: nothing of it is handed out until the pause ends, by `resume` or at its `until`,
when its next due time is decided afresh, so the due times it was paused over are missed
runs and its `catchup` decides.

Exactly-once across beats (restart, failover, a stalled leader) is the ledger's job, not
this module's: a fresh core knows only what the rows say.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from celeryapp.dueplan import (
    NO_GRACE,
    Decision,
    Entry,
    first_due,
    following,
    pending_due,
    retry_due,
)
from celeryapp.pausing import holds
from celeryapp.schedules import to_utc

_NOT_PAUSED = object()


@dataclass(frozen=True, slots=True)
class Run:
    """One (schedule, due time) to dispatch; `due` is UTC."""

    entry: Entry
    due: datetime

    @property
    def name(self) -> str:
        return self.entry.name


@dataclass(slots=True)
class _Slot:  # never changed once built; not frozen because frozen ones build at half speed
    at: datetime  # when to look at it (UTC): the due time, or the retry time
    due: datetime  # the due time it stands for (UTC)
    seq: int  # matches the heap item that stands for this slot
    retry: bool  # the last publish of `due` failed
    missed: bool = False  # found at takeover: `catchup` alone decides, however late it pops
    handoff: bool = False  # in a handoff's gap: fires however late it pops


class BeatCore:
    """The heap of one leading beat. `grace` is the tick tolerance (a due time at most this
    late is on time); `retry_delay` spaces publish retries while the broker is down."""

    def __init__(self, *, grace: timedelta, retry_delay: timedelta) -> None:
        self.grace = grace
        self.retry_delay = retry_delay
        self.entries: dict[str, Entry] = {}
        self._slots: dict[str, _Slot] = {}
        self._heap: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()
        self._out: dict[str, Run] = {}  # handed out by pop_due, outcome not yet reported
        # Handed over by a live beat (`add` with `handed_off`): name -> the last due time
        # of the gap between its release and our load; every due time up to it fires.
        self._gap: dict[str, datetime] = {}
        self.paused: dict[str, datetime | None] = {}  # name -> until (None: until resumed)
        # Due times judged missed and not fired (`Decision.passed`), ever: a counter for
        # the shell's metrics, kept across `clear`.
        self.missed = 0

    # --- loading ------------------------------------------------------------------------

    def clear(self) -> None:
        self.entries.clear()
        self.paused.clear()
        self._slots.clear()
        self._heap.clear()
        self._out.clear()
        self._gap.clear()

    def load(
        self,
        entries: Iterable[Entry],
        now: datetime,
        paused: Mapping[str, datetime | None] | None = None,
    ) -> None:
        """Replace everything with `entries` (a beat that just became the leader); names
        are unique (they are the table's key). One heapify instead of a push per entry:
        this runs for every row of the table on every takeover.

        No tick tolerance here: due times before a takeover passed while no beat was
        leading, so they are missed runs and `catchup` alone decides (DESIGN §4: `skip`
        fires none of them). `paused`: name -> until of the pause rows; those that still
        hold at `now` get no slot."""
        self.clear()
        for name, until in (paused or {}).items():
            if holds(until, now):
                self.paused[name] = until
        slots, heap, seq = self._slots, self._heap, self._seq
        for entry in entries:
            self.entries[entry.name] = entry
            if entry.name in self.paused:
                continue
            decision = first_due(entry, entry.shifted(now))
            if decision.passed is not None:
                self.missed += 1
                self.entries[entry.name] = _past(entry, decision.passed)
            when = decision.fire_now if decision.fire_now is not None else decision.next_due
            if when is not None:
                due, n = to_utc(when), next(seq)
                at = due + entry.offset if entry.offset else due
                missed = decision.fire_now is not None
                slots[entry.name] = _Slot(at=at, due=due, seq=n, retry=False, missed=missed)
                heap.append((at, n, entry.name))
        heapq.heapify(heap)

    def add(
        self,
        entries: Iterable[Entry],
        now: datetime,
        paused: Mapping[str, datetime | None] | None = None,
        *,
        handed_off: datetime | None = None,
    ) -> None:
        """Add the entries of a shard this beat just took, keeping everything else.

        Taken from a dead beat (`handed_off` None): as `load`, due times before now are
        missed runs for `catchup`. Handed over by a live beat that dispatched every due
        time whose fire time is at or before `handed_off` (its release marker): those
        are done, and every due time after it and up to now is in the gap between its
        release and this load, so it fires (on time, however late), each one once;
        the ledger still refuses anything the giver claimed."""
        for name, until in (paused or {}).items():
            if holds(until, now):
                self.paused[name] = until
        for entry in entries:
            name = entry.name
            self._slots.pop(name, None)
            self._out.pop(name, None)
            self._gap.pop(name, None)
            if handed_off is None:
                self.entries[name] = entry
                if name not in self.paused:
                    self._decide(entry, first_due(entry, entry.shifted(now)), missed=True)
                continue
            done = to_utc(entry.shifted(handed_off))
            handed = replace(entry, baseline=_later(entry.baseline, done))
            self.entries[name] = handed
            if name in self.paused:
                continue
            self._gap[name] = to_utc(handed.shifted(now))
            nxt = following(handed, done)
            if nxt is not None:
                self._push(name, to_utc(nxt))

    def drop(self, names: Iterable[str]) -> None:
        """Forget `names` (the shard they are in was given back or lost)."""
        for name in names:
            self.entries.pop(name, None)
            self._slots.pop(name, None)
            self._out.pop(name, None)
            self._gap.pop(name, None)
            self.paused.pop(name, None)

    def install(self, name: str, entry: Entry | None, now: datetime) -> None:
        """A row was created, changed or removed (`None`: removed, or unreadable)."""
        old = self.entries.pop(name, None)
        self._slots.pop(name, None)
        self._out.pop(name, None)
        self._gap.pop(name, None)
        if entry is None:
            return
        if old is not None and _fresher(old, entry):
            # The row's run state may lag what this beat already did (its write failed or
            # is deferred); the timing did not change since, or the row's baseline would
            # be the newer one.
            entry = replace(entry, baseline=old.baseline, has_run=old.has_run or entry.has_run)
        self.entries[name] = entry
        if name not in self.paused:
            self._decide(entry, first_due(entry, entry.shifted(now), self.grace))

    # --- pausing ------------------------------------------------------------------------

    def pause(self, name: str, until: datetime | None, now: datetime) -> None:
        """Hold `name` (its row has a pause) from `now`: its slot goes, its entry stays. A
        pause whose `until` has already come is no pause: the schedule is resumed."""
        if not holds(until, now):
            self.resume(name, now, ended=until)
            return
        self.paused[name] = until
        self._slots.pop(name, None)

    def resume(self, name: str, now: datetime, *, ended: datetime | None = None) -> None:
        """End a pause (no-op for a schedule that is not paused). It `ended` at its
        `until`, or now: a due time before that passed while paused, a missed run that
        gets no tick tolerance (as at a takeover); one after it is merely late."""
        if self.paused.pop(name, _NOT_PAUSED) is _NOT_PAUSED:
            return
        entry = self.entries.get(name)
        if entry is None or name in self._out:
            return
        since = to_utc(now) - to_utc(ended if ended is not None else now)
        grace = min(self.grace, max(since, NO_GRACE))
        self._decide(entry, first_due(entry, entry.shifted(now), grace))

    def resume_expired(self, now: datetime) -> list[str]:
        """Resume every pause whose `until` has come; the names resumed."""
        ended = [(n, until) for n, until in self.paused.items() if not holds(until, now)]
        for name, until in ended:
            self.resume(name, now, ended=until)
        return [name for name, _ in ended]

    # --- dispatch -----------------------------------------------------------------------

    def pop_due(self, now: datetime) -> list[Run]:
        """Every run due at or before `now`, each schedule at most once."""
        limit = to_utc(now)
        batch: list[Run] = []
        heap = self._heap
        while heap and heap[0][0] <= limit:
            _, seq, name = heapq.heappop(heap)
            slot = self._slots.get(name)
            if slot is None or slot.seq != seq:
                continue
            del self._slots[name]
            entry = self.entries[name]
            shifted = entry.shifted(now)
            if slot.handoff:
                decision = Decision(slot.due, following(entry, slot.due))
            elif slot.retry:
                decision = retry_due(entry, slot.due, shifted, self.grace)
            else:
                grace = NO_GRACE if slot.missed else self.grace
                decision = pending_due(entry, slot.due, shifted, grace)
            if decision.passed is not None:
                self.missed += 1
                self.entries[name] = entry = _past(entry, decision.passed)
            if decision.fire_now is None:
                if decision.next_due is not None:
                    self._push(name, to_utc(decision.next_due))
                continue
            run = Run(entry, to_utc(decision.fire_now))
            self._out[name] = run
            batch.append(run)
        return batch

    def done(self, run: Run) -> None:
        """`run` was published, or another beat had claimed it: either way it is taken."""
        if self._out.get(run.name) is not run:
            return  # reloaded or removed since it was handed out
        del self._out[run.name]
        entry, nxt = dispatched(run.entry, run.due)
        self.entries[run.name] = entry
        if nxt is not None and run.name not in self.paused:
            self._push(run.name, to_utc(nxt))

    def failed(self, run: Run, now: datetime) -> None:
        """`run` could not be published: try the same due time again after `retry_delay`."""
        if self._out.get(run.name) is not run:
            return
        del self._out[run.name]
        if run.name not in self.paused:
            self._push(run.name, run.due, at=to_utc(now) + self.retry_delay, retry=True)

    # --- reading ------------------------------------------------------------------------

    def next_wakeup(self) -> datetime | None:
        """When the earliest slot comes, or a pause ends (UTC); stale heap items are
        dropped on the way."""
        ends = [to_utc(until) for until in self.paused.values() if until is not None]
        first = min(ends) if ends else None
        heap = self._heap
        while heap:
            _, seq, name = heap[0]
            slot = self._slots.get(name)
            if slot is not None and slot.seq == seq:
                return slot.at if first is None or slot.at < first else first
            heapq.heappop(heap)
        return first

    def pending(self) -> list[tuple[datetime, str]]:
        """(due, name) of every slot, sorted: for `syncd status` and tests."""
        return sorted((slot.due, name) for name, slot in self._slots.items())

    def in_flight(self) -> list[Run]:
        return list(self._out.values())

    # --- internals ----------------------------------------------------------------------

    def _decide(self, entry: Entry, decision: Decision, *, missed: bool = False) -> None:
        if decision.passed is not None:
            self.missed += 1
            self.entries[entry.name] = _past(entry, decision.passed)
        when = decision.fire_now if decision.fire_now is not None else decision.next_due
        if when is not None:
            self._push(entry.name, to_utc(when), missed=missed and decision.fire_now is not None)

    def _push(
        self,
        name: str,
        due: datetime,
        *,
        at: datetime | None = None,
        retry: bool = False,
        missed: bool = False,
    ) -> None:
        seq = next(self._seq)
        if at is None:
            at = self.entries[name].fire_at(due)
        gap = self._gap.get(name)
        handoff = gap is not None and due <= gap and not retry
        if gap is not None and not handoff:
            del self._gap[name]  # past the gap: on time from here, as any due time
        slot = _Slot(at=at, due=due, seq=seq, retry=retry, missed=missed, handoff=handoff)
        self._slots[name] = slot
        heapq.heappush(self._heap, (slot.at, seq, name))


def dispatched(entry: Entry, due: datetime) -> tuple[Entry, datetime | None]:
    """`entry` after its run at `due` went out, and its next due time (None: never)."""
    entry = replace(entry, baseline=_later(entry.baseline, due), has_run=True)
    return entry, following(entry, due)


def upcoming(
    entry: Entry, after: datetime, count: int, *, until: datetime | None = None
) -> list[datetime]:
    """The next `count` fire times strictly after `after` (and not after `until`) that a
    beat leading from `after` would dispatch, each going out when due: `syncd next`'s
    answer. A run the beat would fire at `after` itself (due then, or missed and caught
    up) is not "next", but it counts: a one-off that fires then shows no later time.

    A fire time is the due time plus the schedule's jitter offset, in the due time's zone
    (without jitter the due time itself)."""
    offset = entry.offset
    decision = first_due(entry, entry.shifted(after))
    due = decision.next_due
    if decision.fire_now is not None:
        entry, due = dispatched(entry, decision.fire_now)
    out: list[datetime] = []
    limit = None if until is None else to_utc(until)
    while due is not None and len(out) < count:
        # In UTC: adding to a zone's wall time would move across a DST change by an hour.
        fire = (to_utc(due) + offset).astimezone(due.tzinfo) if offset else due
        if limit is not None and to_utc(fire) > limit:
            break
        out.append(fire)
        entry, due = dispatched(entry, due)
    return out


def _past(entry: Entry, passed: datetime) -> Entry:
    """`entry` with a missed due time that `catchup` did not fire counted as handled (it is
    not a run: `has_run` and the row's run state stay as they are)."""
    return replace(entry, baseline=_later(entry.baseline, to_utc(passed)))


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or to_utc(b) > to_utc(a) else a


def _fresher(old: Entry, new: Entry) -> bool:
    return old.baseline is not None and (
        new.baseline is None or to_utc(old.baseline) > to_utc(new.baseline)
    )


__all__ = ["BeatCore", "Run", "dispatched", "upcoming"]

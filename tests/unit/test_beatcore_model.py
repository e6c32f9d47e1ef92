"""The beat core against a model, by hypothesis stateful testing.

Random sequences of applies (create, change timing, change only the payload, disable,
enable, delete, rename), runtime pauses (until resumed, or until an instant) and resumes,
ticks at random clock steps (tenths of a second to hours, across
DST transitions in several zones), schedules with a jitter offset (every rule then holds for
the fire time, due + offset, and the run keeps its nominal due time), restarts, failovers to a fresh core that loads what the
"database" says, a stalled old leader that comes back for one tick, and broker outages.
Around the core is the same glue as the shell's: a ledger set claimed before publishing,
run state written after. The model knows every schedule's current version and checks
every run handed out by a core:

* no core hands out one (schedule, due time) twice, and a batch holds a schedule once;
  a core that loaded after a run was recorded never hands it out again (restart and
  failover never repeat a due time); only a stalled leader's stale core may, and the
  ledger refuses it;
* never early, never before the version's timing changed, never outside start/expiry,
  never for a deleted or disabled schedule, a one-off once per version;
* always the latest due time so far (a stall never ends in a burst or a stale run), and
  no later than the tick tolerance unless `catchup: latest` allows it (or it is the retry
  of a failed publish); never while a pause the leader has seen holds;
and at every tick of a leader whose broker works, the due time the rules say must fire by
now has fired (on time, or caught up by `catchup`); a due time a pause covered counts as
missed, for `catchup` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from celeryapp.beatcore import BeatCore, Run
from celeryapp.dueplan import Entry, entry_from_row, following, window
from celeryapp.pausing import holds
from celeryapp.schedules import ScheduleType, to_utc

START = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # New York falls back at 06:00Z
GRACE = timedelta(seconds=3)
RETRY = timedelta(seconds=1)
NAMES = ["a", "b", "c", "d", "e", "f"]
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
CRONS = ["* * * * *", "*/5 * * * *", "30 1 * * *", "0 2 * * *", "15 * * * *", "0 */2 * * *"]
EVERY = [1, 2, 5, 30, 60, 3600]


def _seconds(low: float, high: float) -> st.SearchStrategy[timedelta]:
    return st.floats(low, high).map(lambda s: timedelta(seconds=round(s, 3)))


healthy = _seconds(0.05, 2.5)  # a healthy beat's ticks
slow = _seconds(2.5, 90)  # a slow tick, a short failover
stall = _seconds(600, 3 * 3600)  # a long stall or outage

timings = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just(ScheduleType.INTERVAL),
            "interval_every": st.sampled_from(EVERY),
            "interval_period": st.just("seconds"),
            "crontab": st.none(),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just(ScheduleType.CRONTAB),
            "crontab": st.sampled_from(CRONS),
            "interval_every": st.none(),
            "interval_period": st.none(),
        }
    ),
)
extras = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(ZONES),
        "catchup": st.sampled_from(["latest", "skip"]),
        "catchup_window": st.sampled_from([None, None, 1, 90, 7200]),
        "one_off": st.sampled_from([False, False, False, True]),
        "start_offset": st.sampled_from([None, None, -30, 45, 4000]),
        "expire_offset": st.sampled_from([None, None, None, 120, 9000]),
        # Seconds; 1800 is longer than most periods here: a row written by other means
        # (validation refuses it), which the core must still handle as a plain shift.
        "jitter": st.sampled_from([None, None, None, 1, 7, 1800]),
    }
)


@dataclass
class Version:
    """What the database says of one schedule since its timing last changed."""

    row: dict[str, Any]
    entry: Entry  # built from the row as the version started (baseline = changed time)
    changed: datetime
    fired: int = 0


@dataclass
class Beat:
    core: BeatCore
    handed: set[tuple[str, datetime]] = field(default_factory=set)
    loaded_at: datetime = START
    stale: bool = False
    # The version of each schedule this core last loaded: a stalled leader's run counts
    # for the current version only if its core knew that version (not an older schedule
    # of the same name, deleted or renamed away since).
    seen: dict[str, Version | None] = field(default_factory=dict)


class BeatModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = START
        self.rows: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, Version] = {}
        self.reload: set[str] = set()  # applied, not yet seen by the leader
        self.ledger: set[tuple[str, datetime]] = set()
        self.dispatched: dict[tuple[str, datetime], datetime] = {}
        self.by_stale: set[tuple[str, datetime]] = set()  # sent by a stalled leader
        self.leader: Beat | None = None
        self.stalled: Beat | None = None
        self.broker_up = True
        self.last_failure: datetime | None = None
        self.retrying: set[str] = set()
        self.serial = 0
        self.pauses: dict[str, datetime | None] = {}  # the pause table: name -> until
        self.resumed: dict[str, datetime] = {}  # when each name's last pause ended

    # --- the database side --------------------------------------------------------------

    def _new_row(self, name: str, timing: dict[str, Any], extra: dict[str, Any]) -> None:
        now = self.clock
        start = extra["start_offset"]
        expire = extra["expire_offset"]
        self.serial += 1
        row: dict[str, Any] = {
            "name": name,
            "task": "celeryapp.tasks.echo",
            **timing,
            "args": [self.serial],
            "kwargs": {},
            "queue": None,
            "exchange": None,
            "routing_key": None,
            "timezone": extra["timezone"],
            "start_time": now + timedelta(seconds=start) if start is not None else None,
            "expire_time": now + timedelta(seconds=expire) if expire is not None else None,
            "expire_seconds": None,
            "one_off": extra["one_off"],
            "enabled": True,
            "catchup": extra["catchup"],
            "catchup_window": extra["catchup_window"],
            "overlap": "allow",
            "jitter": extra["jitter"],
            "created_time": now,
            "schedule_changed_time": now,
            "last_run_time": None,
        }
        self._set_version(name, row)

    def _set_version(self, name: str, row: dict[str, Any]) -> None:
        self.rows[name] = row
        entry = entry_from_row(row, default_timezone="UTC")
        self.versions[name] = Version(row=row, entry=entry, changed=self.clock)
        self.reload.add(name)

    def _entry(self, name: str) -> Entry | None:
        row = self.rows.get(name)
        if row is None or not row["enabled"]:
            return None
        return entry_from_row(row, default_timezone="UTC")

    @initialize(schedules=st.lists(st.tuples(timings, extras), min_size=1, max_size=4))
    def first_apply(self, schedules: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for name, (timing, extra) in zip(NAMES, schedules, strict=False):
            self._new_row(name, timing, extra)

    def _existing(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.rows)))

    @precondition(lambda self: len(self.rows) < len(NAMES))
    @rule(data=st.data(), timing=timings, extra=extras)
    def create(self, data: st.DataObject, timing: dict[str, Any], extra: dict[str, Any]) -> None:
        name = data.draw(st.sampled_from([n for n in NAMES if n not in self.rows]))
        self._new_row(name, timing, extra)

    @precondition(lambda self: self.rows)
    @rule(data=st.data(), timing=timings)
    def change_timing(self, data: st.DataObject, timing: dict[str, Any]) -> None:
        name = self._existing(data)
        row = {**self.rows[name], **timing, "schedule_changed_time": self.clock}
        self._set_version(name, row)

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def change_payload(self, data: st.DataObject) -> None:
        # Not a timing change: the version (and what has fired of it) carries on.
        name = self._existing(data)
        self.serial += 1
        self.rows[name] = {**self.rows[name], "args": [self.serial]}
        self.reload.add(name)

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def toggle_enabled(self, data: st.DataObject) -> None:
        name = self._existing(data)
        row = self.rows[name]
        row = {**row, "enabled": not row["enabled"], "schedule_changed_time": self.clock}
        self._set_version(name, row)

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = self._existing(data)
        del self.rows[name]
        del self.versions[name]
        self.reload.add(name)

    @precondition(lambda self: self.rows and len(self.rows) < len(NAMES))
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        old = self._existing(data)
        new = data.draw(st.sampled_from([n for n in NAMES if n not in self.rows]))
        row = {**self.rows.pop(old), "name": new, "created_time": self.clock}
        row.update(schedule_changed_time=self.clock, last_run_time=None)
        del self.versions[old]
        self.reload.add(old)
        self._set_version(new, row)

    @precondition(lambda self: self.rows)
    @rule(data=st.data(), until=st.sampled_from([None, 0.5, 5, 120, 4000]))
    def pause(self, data: st.DataObject, until: float | None) -> None:
        """`syncd pause` (a pause row and a revision naming it; no schedule row changes)."""
        name = self._existing(data)
        self._end_pause(name)
        self.pauses[name] = None if until is None else self.clock + timedelta(seconds=until)
        self.reload.add(name)

    @precondition(lambda self: self.pauses)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.pauses)))
        self._end_pause(name)
        self.pauses.pop(name)
        self.reload.add(name)

    def _end_pause(self, name: str) -> None:
        until = self.pauses.get(name)
        if until is not None and until <= self.clock:
            self.resumed[name] = until  # it ended by itself before this

    def _paused(self, name: str) -> bool:
        return name in self.pauses and holds(self.pauses[name], self.clock)

    def _pause_ended(self, name: str) -> datetime | None:
        """When the last pause of `name` ended (None: never paused, or paused now)."""
        if self._paused(name):
            return None
        until = self.pauses.get(name)
        return until if until is not None else self.resumed.get(name)

    # --- the beats ----------------------------------------------------------------------

    def _start(self) -> Beat:
        core = BeatCore(grace=GRACE, retry_delay=RETRY)
        entries = [e for n in sorted(self.rows) if (e := self._entry(n)) is not None]
        core.load(entries, self.clock, dict(self.pauses))
        self.reload.clear()
        self.retrying.clear()
        # Loaded: no tick tolerance this tick.
        return Beat(core=core, loaded_at=self.clock, seen=dict(self.versions))

    @rule()
    def restart(self) -> None:
        """The only beat stops (or is killed) and starts again: a fresh core."""
        self.leader = self._start()

    @rule()
    def fail_over(self) -> None:
        """The leader stalls past its TTL; a standby loads and leads. The old one keeps its
        stale core and may come back for one tick."""
        if self.leader is not None:
            self.leader.stale = True
            self.stalled = self.leader
        self.leader = self._start()

    @rule()
    def all_down(self) -> None:
        self.leader = None

    @rule(up=st.booleans())
    def broker(self, up: bool) -> None:
        self.broker_up = up

    @precondition(lambda self: self.stalled is not None)
    @rule()
    def stalled_leader_comes_back(self) -> None:
        """Between waking and noticing it lost the lock, the old leader runs one tick."""
        assert self.stalled is not None
        self._dispatch(self.stalled)
        self.stalled = None

    @rule(step=healthy)
    def tick(self, step: timedelta) -> None:
        self._tick(step)

    @rule(count=st.integers(1, 40), step=healthy)
    def run_a_while(self, count: int, step: timedelta) -> None:
        for _ in range(count):
            self._tick(step)

    @rule(step=slow)
    def slow_tick(self, step: timedelta) -> None:
        self._tick(step)

    @rule(step=stall)
    def stalled_tick(self, step: timedelta) -> None:
        self._tick(step)

    def _tick(self, step: timedelta) -> None:
        self.clock += step
        if self.leader is None:
            self.leader = self._start()  # a beat comes back up and wins the lock
        beat = self.leader
        for name in sorted(self.reload):  # the shell's glue (scheduler._check_revision)
            if name in self.pauses:
                beat.core.pause(name, self.pauses[name], self.clock)
            elif name in beat.core.paused:
                beat.core.resume(name, self.clock)
                # The pause ends when the beat learns of the resume: before that, a due
                # time was still held, so it is a missed run, not a late one.
                self.resumed[name] = self.clock
            beat.core.install(name, self._entry(name), self.clock)
            beat.seen[name] = self.versions.get(name)
        self.reload.clear()
        beat.core.resume_expired(self.clock)
        self._dispatch(beat)
        self._check_fired(beat)

    def _dispatch(self, beat: Beat) -> None:
        now = self.clock
        batch = beat.core.pop_due(now)
        names = [run.name for run in batch]
        assert len(names) == len(set(names)), f"a batch holds a schedule twice: {names}"
        for run in batch:
            key = (run.name, run.due)
            assert key not in beat.handed, f"one core handed out {key} twice"
            beat.handed.add(key)
            self._check_run(beat, run)
            if key in self.ledger:
                # Only a stalled leader's run, sent behind this core's back, may come again.
                assert beat.stale or key in self.by_stale, f"{key} handed out again"
                beat.core.done(run)  # claimed elsewhere: taken
                continue
            if not self.broker_up:
                beat.handed.discard(key)  # not sent: the same due time is tried again
                beat.core.failed(run, now)
                self.retrying.add(run.name)
                self.last_failure = now
                continue
            self.ledger.add(key)
            self.dispatched[key] = now
            if beat.stale:
                self.by_stale.add(key)
            self.retrying.discard(run.name)
            version = self.versions.get(run.name)
            if version is not None and (not beat.stale or beat.seen.get(run.name) is version):
                version.fired += 1
            row = self.rows.get(run.name)
            if row is not None and (row["last_run_time"] is None or row["last_run_time"] < key[1]):
                row["last_run_time"] = run.due
            beat.core.done(run)
        if beat.stale:
            beat.core.clear()

    def _check_run(self, beat: Beat, run: Run) -> None:
        now = to_utc(self.clock)
        due = run.due
        # With jitter every rule is about the fire time; the run keeps its nominal due.
        fire = run.entry.fire_at(due)
        assert fire <= now, f"{run.name}@{due} handed out early at {now} (fires {fire})"
        if beat.stale:
            return  # its state is old by design; the ledger decides
        version = self.versions.get(run.name)
        assert version is not None, f"{run.name}@{due} handed out after the schedule was deleted"
        entry = version.entry
        assert version.row["enabled"], f"{run.name}@{due} handed out while disabled"
        assert not self._paused(run.name), f"{run.name}@{due} handed out while paused"
        assert due > to_utc(version.changed), f"{run.name}@{due} is before its timing changed"
        on_grid = entry.timetable.next_after(due - timedelta(microseconds=1))
        assert on_grid is not None and to_utc(on_grid) == due, f"{run.name}@{due} off its grid"
        if entry.start_time is not None:
            assert due >= to_utc(entry.start_time), f"{run.name}@{due} before start_time"
        if entry.expire_time is not None:
            assert fire <= to_utc(entry.expire_time), f"{run.name}@{due} after expiry"
        if entry.one_off and (run.name, due) not in self.by_stale:
            assert version.fired == 0, f"one-off {run.name} handed out twice"
        later = following(entry, due)
        assert later is None or entry.fire_at(later) > now, (
            f"{run.name}@{due} is stale at {now}: {later} has passed"
        )
        late = now - fire
        ended = self._pause_ended(run.name)
        on_time = fire > to_utc(beat.loaded_at) and (ended is None or fire >= to_utc(ended))
        allowed = GRACE if on_time else timedelta(0)
        if entry.catchup == "latest":
            allowed = max(allowed, window(entry, due))
        if run.name not in self.retrying:
            assert late <= allowed, f"{run.name}@{due} is {late} late (allowed {allowed})"

    def _check_fired(self, beat: Beat) -> None:
        """What the rules say has fired by now, has (the broker working)."""
        now = to_utc(self.clock)
        if not self.broker_up or (self.last_failure and now - self.last_failure <= RETRY):
            return
        for name, version in self.versions.items():
            entry = version.entry
            if not version.row["enabled"] or (entry.one_off and version.fired):
                continue
            if self._paused(name):
                continue
            latest = entry.timetable.latest_at_or_before(entry.shifted(now))
            if latest is None or to_utc(latest) <= to_utc(version.changed):
                continue
            due = to_utc(latest)
            fire = entry.fire_at(due)
            if entry.start_time is not None and due < to_utc(entry.start_time):
                continue
            if entry.expire_time is not None and fire > to_utc(entry.expire_time):
                continue
            late = now - fire
            # A due time before the core loaded passed while no beat was leading: a missed
            # run, for `catchup` alone; after that, one lock TTL late is still on time.
            tolerance = GRACE if fire > to_utc(beat.loaded_at) else timedelta(0)
            ended = self._pause_ended(name)
            if ended is not None and fire < to_utc(ended):
                tolerance = timedelta(0)  # it passed while paused: a missed run
            must = late <= tolerance or (entry.catchup == "latest" and late <= window(entry, due))
            if must:
                assert (name, due) in self.dispatched, (
                    f"{name}@{due} should have fired by {now} (late {late}, {entry.catchup})"
                )

    def teardown(self) -> None:
        sent = len(self.dispatched)
        event(
            "runs dispatched",
            "0" if not sent else "1-9" if sent < 10 else "10-99" if sent < 100 else "100+",
        )
        event("stale runs refused or sent", str(min(len(self.by_stale), 1)))

    @invariant()
    def one_slot_per_schedule(self) -> None:
        if self.leader is not None:
            names = [name for _, name in self.leader.core.pending()]
            assert len(names) == len(set(names))


BeatModel.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_beat_core_against_the_model = BeatModel.TestCase

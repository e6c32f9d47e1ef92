"""The core's side of sharded beats: adding a shard's entries (a takeover from a dead
beat, or a handoff from a live one) and dropping them, without touching the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from celeryapp.beatcore import BeatCore, Run
from celeryapp.dueplan import Entry, entry_from_row
from celeryapp.schedules import ScheduleType

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def _entry(**overrides: Any) -> Entry:
    row: dict[str, Any] = {
        "name": "small",
        "task": "celeryapp.tasks.echo",
        "type": ScheduleType.INTERVAL,
        "interval_every": 1,
        "interval_period": "seconds",
        "created_time": T0,
        "schedule_changed_time": T0,
        "enabled": True,
        **overrides,
    }
    return entry_from_row(row, default_timezone="UTC")


def _core() -> BeatCore:
    return BeatCore(grace=3 * S, retry_delay=S)


def _drain(core: BeatCore, now: datetime) -> list[Run]:
    """What a beat ticking at `now` again and again sends (a tick per due run at most)."""
    out: list[Run] = []
    while batch := core.pop_due(now):
        for run in batch:
            core.done(run)
        out += batch
    return out


def test_a_handoff_fires_every_due_time_after_the_givers_last_dispatch() -> None:
    core = _core()
    core.add([_entry(last_run_time=T0 + 2 * S)], T0 + 7.5 * S, handed_off=T0 + 2.2 * S)
    assert [r.due for r in _drain(core, T0 + 7.5 * S)] == [T0 + n * S for n in range(3, 8)]
    assert [r.due for r in _drain(core, T0 + 8 * S)] == [T0 + 8 * S]


def test_a_handoff_never_repeats_what_the_giver_sent_even_with_stale_run_state() -> None:
    # The row says 1 s (a settle that lagged); the marker says the giver dispatched to 4 s.
    core = _core()
    core.add([_entry(last_run_time=T0 + S)], T0 + 5 * S, handed_off=T0 + 4 * S)
    assert [r.due for r in _drain(core, T0 + 5 * S)] == [T0 + 5 * S]


def test_a_takeover_keeps_catchup_semantics() -> None:
    core = _core()
    core.add([_entry(last_run_time=T0 + 2 * S)], T0 + 7.5 * S)
    assert [r.due for r in _drain(core, T0 + 7.5 * S)] == [T0 + 7 * S]  # latest only
    skip = _core()
    skip.add([_entry(last_run_time=T0 + 2 * S, catchup="skip")], T0 + 7.5 * S)
    assert _drain(skip, T0 + 7.5 * S) == []
    assert skip.pending() == [(T0 + 8 * S, "small")]


def test_add_and_drop_leave_the_other_shards_alone() -> None:
    core = _core()
    core.load([_entry(name="mine")], T0)
    _drain(core, T0 + 3 * S)
    core.add([_entry(name="taken")], T0 + 3 * S, handed_off=T0 + 3 * S)
    assert sorted(core.entries) == ["mine", "taken"]
    assert {n for _, n in core.pending()} == {"mine", "taken"}
    core.drop(["taken"])
    assert sorted(core.entries) == ["mine"]
    assert [r.name for r in _drain(core, T0 + 4 * S)] == ["mine"]


def test_a_handoff_respects_pauses_one_offs_and_jitter() -> None:
    core = _core()
    core.add(
        [_entry(name="held"), _entry(name="once", one_off=True, last_run_time=T0 + S)],
        T0 + 5 * S,
        {"held": None},
        handed_off=T0 + 2 * S,
    )
    assert _drain(core, T0 + 5 * S) == []
    jittered = _core()
    entry = _entry(name="j", jitter=0.5)
    jittered.add([entry], T0 + 4 * S, handed_off=T0 + 2 * S)
    # Due 2 s fired at 2 s + offset > 2 s: the giver had not sent it.
    fired = [r.due for r in _drain(jittered, T0 + 4 * S)]
    expected = [T0 + n * S for n in range(1, 5) if T0 + n * S + entry.offset > T0 + 2 * S]
    assert fired == [d for d in expected if d + entry.offset <= T0 + 4 * S]


@given(
    st.integers(0, 20),  # the giver's last dispatch, in tenths of a second after T0 + 1 s
    st.integers(0, 40),  # the taker's load, tenths after that
    st.integers(1, 3),
)
def test_giver_and_taker_together_send_each_due_time_once(
    released: int, gap: int, every: int
) -> None:
    """A giver ticking until its release and a taker from its load: together every due
    time up to the end, each once, whatever the gap."""
    end = T0 + 12 * S
    giver, taker = _core(), _core()
    row = {"interval_every": every}
    giver.load([_entry(**row)], T0)
    release_at = T0 + S + released * S / 10
    sent = []
    t = T0
    while t <= release_at:
        sent += [r.due for r in _drain(giver, t)]
        t += S / 10
    last = max(sent, default=None)
    load_at = release_at + gap * S / 10
    taker.add([_entry(**row, last_run_time=last)], load_at, handed_off=release_at)
    t = load_at
    while t <= end:
        sent += [r.due for r in _drain(taker, t)]
        t += S / 10
    grid = [T0 + n * every * S for n in range(1, 100) if T0 + n * every * S <= t - S / 10]
    assert sent == grid

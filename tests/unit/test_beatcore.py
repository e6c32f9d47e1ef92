"""The beat core on the cases the issue reported, one by one (the model test covers the rest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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


def _send_all(core: BeatCore, now: datetime) -> list[Run]:
    batch = core.pop_due(now)
    for run in batch:
        core.done(run)
    return batch


def test_an_interval_loaded_with_a_missed_due_time_fires_each_due_time_once() -> None:
    # The reproduction: the catch-up run and the next due time were both queued,
    # and the next due time again after the catch-up was sent: two messages per task id.
    core = _core()
    core.load([_entry()], T0 + 5.5 * S)
    sent: list[datetime] = []
    for tick in range(20):
        sent += [run.due for run in _send_all(core, T0 + 5.5 * S + tick * S / 2)]
    assert sent == [T0 + n * S for n in range(5, 16)]  # the last tick is at 15.0
    assert len(core.pending()) == 1


def test_a_batch_holds_each_schedule_once_and_it_comes_back_only_with_the_outcome() -> None:
    core = _core()
    core.load([_entry(), _entry(name="other")], T0 + 2 * S)
    batch = core.pop_due(T0 + 10 * S)
    assert sorted(run.name for run in batch) == ["other", "small"]
    assert core.pop_due(T0 + 20 * S) == []  # handed out, no outcome yet: nothing pending
    assert core.pending() == []


def test_a_stall_fires_the_latest_due_time_once_not_every_one_it_covered() -> None:
    core = _core()
    core.load([_entry()], T0 + S / 2)
    _send_all(core, T0 + S)
    sent = _send_all(core, T0 + 3600.5 * S)
    assert [run.due for run in sent] == [T0 + 3600 * S]


def test_catchup_skip_after_a_stall_fires_nothing_until_the_next_due_time() -> None:
    core = _core()
    core.load([_entry(catchup="skip", interval_every=60)], T0 + S)
    assert _send_all(core, T0 + 60 * S) != []
    assert _send_all(core, T0 + 630 * S) == []  # 10:00 is 30 s late: missed, skipped
    assert [run.due for run in _send_all(core, T0 + 660 * S)] == [T0 + 660 * S]


def test_a_failed_publish_is_retried_after_the_delay_with_the_same_due_time() -> None:
    core = _core()
    core.load([_entry(interval_every=60)], T0 + S)
    (run,) = core.pop_due(T0 + 60 * S)
    core.failed(run, T0 + 60 * S)
    assert core.pop_due(T0 + 60.5 * S) == []
    (again,) = core.pop_due(T0 + 61 * S)
    assert again.due == run.due


def test_a_reload_keeps_run_state_newer_than_the_row() -> None:
    # The row's last run time lags (its write failed): the reload must not fire it again.
    core = _core()
    core.load([_entry(interval_every=60)], T0 + S)
    assert [r.due for r in _send_all(core, T0 + 60 * S)] == [T0 + 60 * S]
    core.install("small", _entry(interval_every=60, args=[2]), T0 + 61 * S)
    assert _send_all(core, T0 + 62 * S) == []
    assert core.pending() == [(T0 + 120 * S, "small")]


def test_a_one_off_fires_once() -> None:
    core = _core()
    core.load([_entry(one_off=True, interval_every=60)], T0 + S)
    assert len(_send_all(core, T0 + 60 * S)) == 1
    assert _send_all(core, T0 + 600 * S) == []
    assert core.pending() == []


def test_removal_drops_the_pending_due_time_and_an_outcome_reported_after_it() -> None:
    core = _core()
    core.load([_entry()], T0 + S / 2)
    (run,) = core.pop_due(T0 + S)
    core.install("small", None, T0 + S)
    core.done(run)
    assert core.pending() == []
    assert core.next_wakeup() is None


def test_a_missed_run_found_at_takeover_gets_no_tick_tolerance_when_it_is_popped_later() -> None:
    # Found by the model test: a beat took over at 4.5 s with the 4 s run of an `every: 2s`
    # (catch-up window 1 s) missed while the broker was down. At load it was within the
    # window; popped a second later it was 1.5 s late, and the tick tolerance (3 s) let it
    # out, though a due time from before the takeover is decided by `catchup` alone.
    core = _core()
    entry = _entry(interval_every=2, catchup="latest", catchup_window=1, last_run_time=T0 + 2 * S)
    core.load([entry], T0 + 4.5 * S)
    assert core.pop_due(T0 + 5.5 * S) == []
    assert core.pending() == [(T0 + 6 * S, "small")]
    assert [run.due for run in _send_all(core, T0 + 6 * S)] == [T0 + 6 * S]


def test_a_paused_schedule_is_not_handed_out_and_catches_up_once_on_resume() -> None:
    core = _core()
    core.load([_entry(interval_every=10)], T0 + S)
    core.pause("small", None, T0 + S)
    assert core.pending() == [] and "small" in core.entries
    assert _send_all(core, T0 + 95 * S) == []
    core.resume("small", T0 + 95 * S)
    # catchup: latest, so the newest due time the pause covered fires, once
    assert [run.due for run in _send_all(core, T0 + 95 * S)] == [T0 + 90 * S]
    assert [run.due for run in _send_all(core, T0 + 100 * S)] == [T0 + 100 * S]


def test_catchup_skip_fires_nothing_the_pause_covered() -> None:
    core = _core()
    core.load([_entry(interval_every=10, catchup="skip")], T0 + S)
    core.pause("small", None, T0 + S)
    core.resume("small", T0 + 95 * S)
    assert _send_all(core, T0 + 95 * S) == []
    assert [run.due for run in _send_all(core, T0 + 100 * S)] == [T0 + 100 * S]


def test_a_pause_with_an_end_wakes_the_beat_then_and_resumes_by_itself() -> None:
    core = _core()
    core.load([_entry(interval_every=3600)], T0 + S)
    core.pause("small", T0 + 60 * S, T0 + S)
    assert core.next_wakeup() == T0 + 60 * S  # before the schedule's own next due time
    assert core.resume_expired(T0 + 59 * S) == []
    assert core.resume_expired(T0 + 60 * S) == ["small"]
    assert core.pending() == [(T0 + 3600 * S, "small")]


def test_a_pause_that_has_already_ended_is_no_pause() -> None:
    core = _core()
    core.load([_entry()], T0 + 5 * S, {"small": T0 + 2 * S, "gone": None})
    assert core.paused == {"gone": None}
    assert [run.due for run in _send_all(core, T0 + 5 * S)] == [T0 + 5 * S]


def test_a_run_out_when_the_pause_came_is_not_followed_by_another() -> None:
    core = _core()
    core.load([_entry()], T0 + S / 2)
    (run,) = core.pop_due(T0 + S)
    core.pause("small", None, T0 + S)
    core.done(run)  # published after all: taken, and nothing queued behind it
    assert core.pending() == []
    core.resume("small", T0 + 3 * S)
    assert [r.due for r in _send_all(core, T0 + 3 * S)] == [T0 + 3 * S]


def test_a_reload_of_a_paused_schedule_keeps_it_paused() -> None:
    # An apply that changes a paused schedule does not resume it.
    core = _core()
    core.load([_entry()], T0 + S / 2)
    core.pause("small", None, T0 + S)
    core.install("small", _entry(args=[2]), T0 + 2 * S)
    assert _send_all(core, T0 + 10 * S) == []


def test_a_missed_run_skipped_at_takeover_stays_skipped_when_the_row_reloads() -> None:
    # Found by the model: at takeover 12:00:03 was missed (catchup: skip, no tolerance); a
    # reload half a second later judged it again with the tick tolerance and sent it.
    core = _core()
    core.load([_entry(catchup="skip")], T0 + 3.25 * S)
    assert core.pop_due(T0 + 3.25 * S) == []
    core.install("small", _entry(catchup="skip", args=[2]), T0 + 3.75 * S)
    assert _send_all(core, T0 + 3.75 * S) == []
    assert [run.due for run in _send_all(core, T0 + 4 * S)] == [T0 + 4 * S]


def test_a_due_time_the_pause_covered_is_missed_even_just_before_it_ended() -> None:
    core = _core()
    core.load([_entry(catchup="skip")], T0 + S / 2, {"small": T0 + 3.5 * S})
    assert core.resume_expired(T0 + 3.75 * S) == ["small"]
    # 12:00:03 fell inside the pause: missed, skipped; 12:00:04 is the next.
    assert _send_all(core, T0 + 3.75 * S) == []
    assert [run.due for run in _send_all(core, T0 + 4 * S)] == [T0 + 4 * S]


# --- jitter: the slot waits for the fire time; the run keeps its nominal due ------------


def _jittered(**overrides: Any) -> Entry:
    entry = _entry(interval_every=60, jitter=30, **overrides)
    assert S < entry.offset < 29 * S  # "small"'s offset under 30 s
    return entry


def test_a_jittered_run_goes_out_at_its_fire_time_with_its_nominal_due() -> None:
    entry = _jittered()
    core = _core()
    core.load([entry], T0)
    due = T0 + 60 * S
    assert core.next_wakeup() == due + entry.offset
    assert core.pending() == [(due, "small")]
    assert core.pop_due(due) == []  # due, not yet fired
    assert core.pop_due(due + entry.offset - timedelta(milliseconds=1)) == []
    (run,) = _send_all(core, due + entry.offset)
    assert run.due == due
    assert core.next_wakeup() == due + 60 * S + entry.offset


def test_the_tick_tolerance_applies_to_the_fire_time() -> None:
    """A run popped within the tolerance of its fire time is on time, though later than
    the tolerance after its due time; past it, `catchup: skip` drops it."""
    entry = _jittered(catchup="skip")
    core = _core()
    core.load([entry], T0)
    fire = T0 + 60 * S + entry.offset
    (run,) = _send_all(core, fire + 2 * S)
    assert run.due == T0 + 60 * S
    assert _send_all(core, fire + 60 * S + 4 * S) == []  # 4 s late, tolerance 3 s
    assert core.pending() == [(T0 + 180 * S, "small")]


def test_a_takeover_between_due_and_fire_time_fires_on_time() -> None:
    """A beat that loads after a due time but before its fire time waits for the fire
    time: the run was not missed."""
    entry = _jittered(catchup="skip")
    core = _core()
    due = T0 + 60 * S
    core.load([entry], due + timedelta(milliseconds=500))
    assert core.pending() == [(due, "small")]
    (run,) = _send_all(core, due + entry.offset)
    assert run.due == due


def test_a_takeover_after_the_fire_time_is_a_missed_run_for_catchup() -> None:
    entry = _jittered(catchup="latest")
    core = _core()
    due = T0 + 60 * S
    now = due + entry.offset + 10 * S
    core.load([entry], now)
    (run,) = _send_all(core, now)  # caught up at once
    assert run.due == due
    skip = _core()
    skip.load([_jittered(catchup="skip")], now)
    assert _send_all(skip, now) == []


def test_a_reload_shortly_after_a_jittered_run_does_not_repeat_it() -> None:
    entry = _jittered()
    core = _core()
    core.load([entry], T0)
    fire = T0 + 60 * S + entry.offset
    (run,) = _send_all(core, fire)
    # The row comes back with its run state (last_run_time = the nominal due).
    core.install("small", _jittered(last_run_time=run.due), fire + S)
    assert core.pending() == [(T0 + 120 * S, "small")]


def test_an_apply_between_due_and_fire_time_starts_the_schedule_afresh() -> None:
    """The rules are asked at now - offset, which may lie before the apply that changed
    the schedule: its due times at or before the apply are still not run (found by the
    model)."""
    due = T0 + 60 * S
    changed = due + timedelta(milliseconds=500)
    entry = _jittered(schedule_changed_time=changed)
    core = _core()
    core.install("small", entry, changed + timedelta(milliseconds=100))
    # Re-anchored at the apply: its anchor is done (it is the baseline), the next is a
    # period later.
    assert core.pending() == [(changed + 60 * S, "small")]

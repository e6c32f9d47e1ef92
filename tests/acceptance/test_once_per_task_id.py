"""Each (schedule, due time) once, counted where a duplicate is visible (issue 9).

A real beat and a real gevent worker; the worker runs `tests.tally_task`, which counts every
message it receives (before the once-only check) and every execution, per task id. Each
test runs on the embedded default (SQLite, filesystem broker, no Redis: the once-only check
has no Redis to hide a second message behind) and on PostgreSQL + Redis.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from tests.acceptance.beat_process import beats
from tests.acceptance.conftest import stack_name, tally_of
from tests.celery_worker import celery_worker, wait_for
from tests.probes import apply
from tests.tally import due_times, quiesce, schedule_of, tally_schedule

pytestmark = pytest.mark.acceptance


@pytest.fixture
def env(tally_stack: dict[str, str]) -> dict[str, str]:
    return tally_stack


def test_the_reproduction_one_message_one_execution(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 9's reproduction: apply, start the beat, `apply --no-prune` one `every: 1s`."""
    tally = tally_of(env)
    apply(env, tmp_path / "first", tally_schedule("hourly", "every: 1h"))
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        apply(env, tmp_path / "second", tally_schedule("small", "every: 1s"), "--no-prune")
        wait_for(lambda: len(tally.received()) >= 10, 60, what="ten runs of `small`")
    quiesce(tally)
    line = tally.summary(f"issue 9 reproduction, {stack_name(env)}")
    print(line)
    assert not tally.violations(), "\n".join([line, *tally.violations()[:20]])
    assert sum(schedule_of(t) == "small" for t in tally.received()) >= 10


def test_schedule_added_changed_removed_while_the_beat_runs(
    env: dict[str, str], tmp_path: Path
) -> None:
    tally = tally_of(env)
    folder = tmp_path / "schedules"
    keep, added = tally_schedule("keep", "every: 1s"), tally_schedule("added", "every: 1s")
    apply(env, folder, keep)
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        wait_for(lambda: len(tally.received()) >= 2, 30, what="runs of `keep`")
        apply(env, folder, keep + added)
        wait_for(lambda: "added" in due_times(tally.received()), 30, what="`added` to run")
        time.sleep(2)
        changed_at = apply(env, folder, tally_schedule("keep", "every: 2s") + added)
        time.sleep(4)
        removed_at = apply(env, folder, tally_schedule("keep", "every: 2s"))
        time.sleep(4)
    quiesce(tally)
    dues = due_times(tally.received())
    line = tally.summary(f"added, changed, removed under a running beat, {stack_name(env)}")
    print(line)
    assert not tally.violations(), "\n".join([line, *tally.violations()[:20]])
    # the change reaches the beat within the poll interval (2 s) plus a tick
    settled_change = changed_at + 3
    after_change = [d for d in dues["keep"] if d > settled_change]
    assert len(after_change) >= 2, dues["keep"]
    assert all(b - a == 2 for a, b in pairwise(after_change))
    assert len(dues["added"]) >= 4
    assert max(dues["added"]) <= removed_at + 3, "`added` ran after it was removed"


def test_restart_of_the_only_beat_catches_up_once(env: dict[str, str], tmp_path: Path) -> None:
    """Stop the only beat, let two due times of each schedule pass, start it again:
    `catchup: latest` fires the newest missed due time once, `catchup: skip` none of them.

    A beat that takes over has no tick tolerance for what passed before it loaded
    (docs/beat.md), so every due time at or before its load is a missed run. The load's own
    instant is not visible from outside (it lies between the start and the first "leading"
    line, and a start on a loaded machine can take longer than a period), so the test
    judges by the grid the two schedules share (applied together, so anchored together):
    `latest`'s first run after the stop is the newest due time at or before the load, and
    `skip`'s first run is exactly one period later. Anything else is a lost or a stale run."""
    period, ttl = 6, 1.5
    env = {**env, "SYNCD_BEAT_LOCK_TTL": str(ttl), "SYNCD_BEAT_MAX_INTERVAL": "0.5"}
    tally = tally_of(env)
    body = tally_schedule("latest", f"every: {period}s") + tally_schedule(
        "skip", f"every: {period}s", catchup="skip"
    )
    apply(env, tmp_path / "schedules", body)
    names = ("latest", "skip")
    with celery_worker(env, tmp_path, include="tests.tally_task"):
        with beats(env, tmp_path) as (beat,):
            wait_for(lambda: beat.leading, 60, what="the beat to lead")
            wait_for(lambda: set(due_times(tally.received())) == set(names), 30, what="both to run")
            asked = time.time()
        stopped = time.time()
        # A run published just before the stop may not have reached the worker yet (the
        # embedded broker is polled); read the last due time only once nothing is in flight.
        quiesce(tally)
        last = max(max(dues) for dues in due_times(tally.received()).values())
        second_missed = last + 2 * period
        time.sleep(max(0.0, second_missed + ttl + 0.3 - time.time()))
        assert stopped < last + period, (
            f"the beat took {stopped - asked:.1f} s to exit after SIGTERM (a period is {period} s)"
        )
        with beats(env, tmp_path) as (again,):
            wait_for(lambda: again.leading, 60, what="the restarted beat to lead")
            led = time.time()
            wait_for(
                lambda: all(
                    len([d for d in due_times(tally.received()).get(name, []) if d > last]) >= 2
                    for name in names
                ),
                30,
                what=f"two runs of each after the restart (led at {led:.1f}, "
                f"received {dict(due_times(tally.received()))})",
            )
    quiesce(tally)
    dues = due_times(tally.received())
    line = tally.summary(
        f"restart of the only beat, {stack_name(env)}",
        f"led {led - second_missed:.1f} s after the second missed due time",
    )
    print(line)
    assert not tally.violations(), "\n".join([line, *tally.violations()[:20]])
    after = {name: [d for d in dues[name] if d > last] for name in names}
    for name in names:
        assert all(b - a == period for a, b in pairwise(after[name])), (name, after[name])
    caught_up, first_skip = after["latest"][0], after["skip"][0]
    # latest: the due times before the newest missed one are skipped, the newest one fires
    # (it was due by the time the beat led) ...
    assert second_missed <= caught_up <= led, (last, caught_up, led, after)
    # ... and skip fires none of them: its first run is the first due time after the load.
    assert first_skip == caught_up + period, (
        f"catchup: skip fired {first_skip} (latest caught up {caught_up}, period {period} s)"
    )

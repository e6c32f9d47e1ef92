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
    `catchup: latest` fires the newer of the two once, `catchup: skip` neither.

    A due time at most one lock TTL late counts as on time (docs/beat.md), so the beat is
    started more than a TTL (here 1.5 s) after the second missed due time: both are then
    missed runs by any reading, and `catchup` alone decides."""
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
            last = {name: dues[-1] for name, dues in due_times(tally.received()).items()}
            asked = time.time()
        stopped = time.time()
        second_missed = max(last.values()) + 2 * period
        time.sleep(max(0.0, second_missed + ttl + 0.3 - time.time()))
        assert stopped < min(last.values()) + period, (
            f"the beat took {stopped - asked:.1f} s to exit after SIGTERM (a period is {period} s)"
        )
        with beats(env, tmp_path) as (again,):
            wait_for(lambda: again.leading, 60, what="the restarted beat to lead")
            led = time.time()
            # Judged from when the beat really led, not when it was started: on a loaded
            # machine a start can take longer than a period, and a due time a TTL before
            # the lead is then one more missed run, not the first run after the restart.
            after = {name: _due_times_between(last[name], period, led + ttl) for name in names}
            following = {name: after[name][-1] for name in names}
            wait_for(
                lambda: all(
                    following[name] in due_times(tally.received()).get(name, []) for name in names
                ),
                30,
                what=f"the first due time after the restart (led at {led:.1f}, "
                f"waiting for {following}, received {dict(due_times(tally.received()))})",
            )
    quiesce(tally)
    dues = due_times(tally.received())
    missed = {name: [d for d in after[name] if d < led - ttl] for name in names}
    line = tally.summary(
        f"restart of the only beat, {len(missed['latest'])} due times missed, {stack_name(env)}",
        f"took the lock {led - second_missed:.1f} s after the second missed due time",
    )
    print(line)
    assert not tally.violations(), "\n".join([line, *tally.violations()[:20]])
    assert len(missed["latest"]) >= 2, (led, last, missed)
    # latest: the newest missed due time once, the older ones skipped; skip: none of them
    assert missed["latest"][-1] in dues["latest"], dues["latest"]
    assert not set(missed["latest"][:-1]) & set(dues["latest"]), dues["latest"]
    fired = sorted(set(missed["skip"]) & set(dues["skip"]))
    assert not fired, (
        f"catchup: skip fired due time(s) {fired} missed while no beat ran; the beat took the "
        f"lock {led - fired[-1]:.1f} s after it"
        if fired
        else ""
    )
    for name in names:
        assert last[name] in dues[name]
        assert following[name] in dues[name]


def _due_times_between(last: float, period: float, until: float) -> list[float]:
    """The due times after `last`, up to and including the first one past `until`."""
    times = [last + period]
    while times[-1] <= until:
        times.append(times[-1] + period)
    return times

"""`syncd pause` against a real beat and a real gevent worker (issue 14): a 1 s schedule
stops within one tick of the pause reaching the beat, `--until` resumes it by itself, and
an apply during a pause does not resume it. Due times are read from the task ids the
worker received, where a run that slipped through would be visible."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.acceptance.beat_process import beats
from tests.acceptance.conftest import BEAT, stack_name, tally_of
from tests.celery_worker import celery_worker, wait_for
from tests.probes import SYNCD, apply
from tests.tally import due_times, quiesce, tally_schedule

pytestmark = pytest.mark.acceptance


def _syncd(env: dict[str, str], *args: str) -> float:
    done = subprocess.run(
        [SYNCD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return time.time()


def _dues(env: dict[str, str]) -> list[float]:
    return due_times(tally_of(env).received()).get("often", [])


def test_pause_holds_a_one_second_schedule_and_until_resumes_it(
    tally_stack: dict[str, str], tmp_path: Path
) -> None:
    env = tally_stack
    # With Redis the revision signal wakes the beat at once; without it the beat polls
    # the revision every SYNCD_BEAT_POLL_INTERVAL. Either way plus one tick, and a second
    # for the grid of a 1 s schedule.
    reach = (0.0 if env.get("SYNCD_REDIS_URL") else float(BEAT["SYNCD_BEAT_POLL_INTERVAL"])) + (
        float(BEAT["SYNCD_BEAT_MAX_INTERVAL"]) + 1.0
    )
    folder = tmp_path / "schedules"
    apply(env, folder, tally_schedule("often", "every: 1s"))
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        wait_for(lambda: len(_dues(env)) >= 3, 30, what="the schedule to run")

        # 1. A pause with an end: nothing due inside it, then it runs again by itself.
        asked = time.time()
        until = int(asked) + 8
        end = datetime.fromtimestamp(until, UTC).isoformat()
        _syncd(env, "pause", "often", "--reason", "test", "--until", end)
        wait_for(lambda: any(d >= until for d in _dues(env)), 30, what="the pause to end")
        held = [d for d in _dues(env) if asked + reach < d < until]
        assert not held, f"due times {held} ran while paused ({stack_name(env)})"

        # 2. An apply during a pause changes the schedule and leaves it paused.
        asked = _syncd(env, "pause", "often", "--reason", "apply during a pause")
        apply(env, folder, tally_schedule("often", "every: 1s", kwargs="{seconds: 0}"))
        time.sleep(reach + 3)
        held = [d for d in _dues(env) if d > asked + reach]
        assert not held, f"due times {held} ran after an apply during a pause"
        resumed = _syncd(env, "resume", "often")
        wait_for(lambda: any(d > resumed for d in _dues(env)), 30, what="the schedule to run again")
    quiesce(tally_of(env))
    assert not tally_of(env).violations(), tally_of(env).violations()[:20]

"""`jitter`, `overlap: buffer_one`, `syncd backfill`, `priority` and `headers` against a
real beat and a real gevent worker (issue 16). Jitter: each message goes out at its due
time plus the schedule's offset, and its task id names the nominal due time. buffer_one: a
1 s schedule whose task takes 3 s runs one execution at a time, the next starting as the
previous ends, never more than one waiting. Backfill, priority and headers: each backfilled
due time executes once (a second backfill sends none), and every message the worker got
carries the schedule's priority and headers. Seen where a mistake would be visible: the
messages and executions the worker counted (tests.tally_task)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from celeryapp.jitter import offset
from celeryapp.schedules import task_id
from celeryapp.tasklog import format_fire
from tests.acceptance.beat_process import beats
from tests.acceptance.conftest import stack_name, tally_of
from tests.celery_worker import celery_worker, wait_for
from tests.probes import apply
from tests.tally import due_of, tally_schedule

pytestmark = pytest.mark.acceptance

SYNCD = str(Path(sys.executable).with_name("syncd"))
# Intervals anchored at a whole second, so every due time is one (task ids carry seconds).
ANCHOR = "'2026-01-01T00:00:00Z'"


def _jittered_name(jitter: int, low: float, high: float) -> tuple[str, float]:
    """A schedule name whose offset under `jitter` seconds lies in [low, high] seconds."""
    for i in range(1000):
        name = f"spread-{i}"
        seconds = offset(name, jitter).total_seconds()
        if low <= seconds <= high:
            return name, seconds
    raise AssertionError("no name found")  # pragma: no cover


def test_jitter_publishes_at_due_plus_offset_with_the_nominal_task_id(
    tally_stack: dict[str, str], tmp_path: Path
) -> None:
    env = tally_stack
    name, shift = _jittered_name(4, 2.0, 3.5)
    body = tally_schedule(name, "every: 5s", start_time=ANCHOR, jitter="4s")
    apply(env, tmp_path / "schedules", body)
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        leading = time.time()
        wait_for(lambda: len(tally_of(env).messages()) >= 4, 60, what="four runs")
    messages = [m for m in tally_of(env).messages() if due_of(m.task_id) + shift > leading + 1]
    assert len(messages) >= 2, messages
    for m in messages:
        due = due_of(m.task_id)
        assert due % 5 == 0, f"{m.task_id}: the task id is not a nominal due time"
        late = m.received - due
        # Published at the fire time (the beat wakes for it), received moments later.
        assert shift - 0.05 <= late <= shift + 1.5, (
            f"{m.task_id} received {late:.3f}s after its due time, offset {shift:.3f}s "
            f"({stack_name(env)})"
        )
        fire = datetime.fromtimestamp(due, UTC) + timedelta(seconds=shift)
        assert m.fire == format_fire(fire), (m, format_fire(fire))
    executed = tally_of(env).executed()
    assert all(executed[m.task_id] <= 1 for m in messages), executed


def test_buffer_one_runs_one_at_a_time_with_at_most_one_waiting(
    tally_stack: dict[str, str], tmp_path: Path
) -> None:
    env = tally_stack
    if not env.get("SYNCD_REDIS_URL"):
        pytest.skip("overlap guards need Redis; without it they are not enforced (warned)")
    body = tally_schedule(
        "busy", "every: 1s", start_time=ANCHOR, overlap="buffer_one", kwargs="{seconds: 3}"
    )
    apply(env, tmp_path / "schedules", body)
    tally = tally_of(env)
    with celery_worker(env, tmp_path, include="tests.tally_task") as worker:
        with beats(env, tmp_path) as (beat,):
            wait_for(lambda: beat.leading, 60, what="the beat to lead")
            wait_for(lambda: len(tally.spans()) >= 4, 60, what="four runs to finish")
        # The beat is gone: let the run and the one waiting finish.
        wait_for(lambda: tally.spans() and time.time() - tally.spans()[-1][2] > 4, 30, what="quiet")
        log = worker.log()
    spans = tally.spans()
    received, executed = tally.received(), tally.executed()
    assert all(n == 1 for n in executed.values()), executed
    assert len(received) >= len(executed) + 4, (len(received), len(executed))
    for (a, _, a_end), (b, b_start, _) in pairwise(spans):
        assert b_start >= a_end - 0.01, f"{b} started at {b_start} while {a} ran until {a_end}"
        if due_of(b) < a_end:  # it was due while `a` ran: the buffered one
            assert b_start - a_end < 0.6, f"{b} waited {b_start - a_end:.2f}s after {a} ended"
    # At most one buffered: of the runs due while one ran, at most one executed.
    for tid, start, end in spans:
        waiting = [t for t, _, _ in spans if t != tid and start <= due_of(t) < end]
        assert len(waiting) <= 1, f"{waiting} all waited for {tid}"
    buffered = sum(1 for (_, _, a_end), (b, _, _) in pairwise(spans) if due_of(b) < a_end)
    assert buffered >= 3, spans
    assert "overlap: buffer_one" in log, log[-3000:]


def _backfill(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [SYNCD, "backfill", *args, "--rate", "0", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_backfill_priority_and_headers_reach_a_real_worker_once_per_task_id(
    tally_stack: dict[str, str], tmp_path: Path
) -> None:
    """`syncd backfill` (run twice) and the beat, with `priority` and `headers`: the worker
    executes each due time once, counted per task id, and every message it received carries
    the schedule's priority and headers."""
    env = tally_stack
    options = {"priority": "7", "headers": "{x-team: billing, x-tenant: 't-42'}"}
    # Disabled, so only the backfill sends it (a disabled schedule can be backfilled).
    body = tally_schedule("past", "every: 1m", start_time=ANCHOR, enabled="false", **options)
    body += tally_schedule("beat", "every: 1s", start_time=ANCHOR, **options)
    apply(env, tmp_path / "schedules", body)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start, end = now - timedelta(minutes=6), now - timedelta(minutes=2)
    backfilled = {task_id("past", start + timedelta(minutes=i)) for i in range(5)}
    first = _backfill(env, "past", "--from", start.isoformat(), "--to", end.isoformat())
    again = _backfill(env, "past", "--from", start.isoformat(), "--to", end.isoformat())
    assert (len(first["sent"]), len(again["sent"]), len(again["already_dispatched"])) == (
        5,
        0,
        5,
    ), again
    tally = tally_of(env)
    with celery_worker(env, tmp_path, include="tests.tally_task"), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        wait_for(
            lambda: (
                backfilled <= set(tally.executed())
                and sum(1 for t in tally.executed() if t.startswith("beat@")) >= 3
            ),
            60,
            what="the backfilled runs and three beat runs",
        )
    executed = tally.executed()
    assert {t for t in executed if t.startswith("past@")} == backfilled, executed
    assert all(n == 1 for n in executed.values()), executed
    expected = {"priority": 7, "headers": {"x-team": "billing", "x-tenant": "t-42"}}
    seen = tally.options()
    for tid in executed:
        assert seen[tid] and all(o == expected for o in seen[tid]), (
            tid,
            seen[tid],
            stack_name(env),
        )

"""`syncd list` and `syncd show` against a real beat and gevent worker (issue 14): every
outcome they report is the state the result backend holds for that run's task id, read
here through Celery's own AsyncResult, not through syncd."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from syncd.listing import OUTCOMES
from syncd.overview import LIST_RUNS
from tests.acceptance.beat_process import beats
from tests.celery_worker import celery_worker, client_app, wait_for
from tests.probes import SYNCD, apply

pytestmark = pytest.mark.acceptance

SCHEDULES = """\
  - name: good
    task: celeryapp.tasks.echo
    every: 1s
  - name: bad
    task: celeryapp.tasks.sleep
    every: 1s
    args: [not a number]
  - name: slow
    task: celeryapp.tasks.sleep
    every: 5s
    args: [8]
"""


def _syncd_json(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [SYNCD, *args, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _listed(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in _syncd_json(env, "list")["schedules"]}


def test_outcomes_match_the_result_backend(tally_stack: dict[str, str], tmp_path: Path) -> None:
    env = tally_stack
    apply(env, tmp_path / "schedules", SCHEDULES)
    app = client_app(env)
    with celery_worker(env, tmp_path):
        with beats(env, tmp_path) as (beat,):
            wait_for(lambda: beat.leading, 60, what="the beat to lead")

            def enough() -> bool:
                listed = _listed(env)
                return (
                    listed["bad"]["state"] == "failing"
                    and listed["good"]["last_outcome"] == "success"
                    and listed["good"]["run_count"] >= 3
                    and listed["bad"]["consecutive_failures"] >= 3
                    and listed["slow"]["last_outcome"] == "running"
                )

            wait_for(enough, 90, interval=1, what="runs of every schedule")
            running = _syncd_json(env, "show", "slow")["runs"][0]
            # Read after syncd said "running": the run was started, and may have ended since.
            assert app.AsyncResult(running["task_id"]).state in ("STARTED", "SUCCESS")
        # The beat is stopped: no new runs; let the last ones (8 s sleeps) finish, so the
        # reports and the backend are compared at rest.
        time.sleep(10)
        listed = _listed(env)
        shown = {name: _syncd_json(env, "show", name, "-n", "50") for name in listed}
    try:
        for name, report in shown.items():
            runs = report["runs"]
            assert runs, name
            assert runs[0]["outcome"] == listed[name]["last_outcome"]
            for run in runs:
                state = app.AsyncResult(run["task_id"]).state
                expected = OUTCOMES.get(state, "sent")
                assert run["outcome"] == expected, (name, run, state)
                if expected in ("success", "failure"):
                    assert run["worker"], run  # result_extended: the worker that ran it
        bad_runs = [r["outcome"] for r in shown["bad"]["runs"]]
        leading = next((n for n, o in enumerate(bad_runs) if o != "failure"), len(bad_runs))
        # `list` keeps the last LIST_RUNS runs of each schedule: failures in a row up to that.
        assert listed["bad"]["consecutive_failures"] == min(leading, LIST_RUNS)
        assert listed["good"]["consecutive_failures"] == 0
        assert listed["good"]["run_count"] == len(shown["good"]["runs"])
        assert shown["good"]["revisions"][0]["kind"] == "apply"
    finally:
        app.close()

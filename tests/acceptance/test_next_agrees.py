"""`syncd next` shows what the beat fires: one-offs once, intervals on the stored anchor.

Through the installed console script, on SQLite and PostgreSQL (issue 12): the YAML view
of an applied, unchanged schedule and `--from-db` print the same times, and both are the
times the beat core would dispatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SYNCD = str(Path(sys.executable).with_name("syncd"))

SCHEDULES = """version: 1
schedules:
  - name: once
    task: reports.send
    cron: "0 2 * * *"
    one_off: true
  - name: tick
    task: health.ping
    every: 7m13s
"""


def _run(tree: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["SYNCD_DATABASE_URL"] = url
    return subprocess.run(
        [SYNCD, *args], capture_output=True, text=True, env=env, cwd=tree, timeout=120, check=False
    )


def _times(tree: Path, url: str, *args: str) -> list[str]:
    done = _run(tree, url, "next", *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["fire_times"])


def test_one_off_prints_one_time(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    assert len(_times(tmp_path, db_url, "once", "-n", "3")) == 1
    applied = _run(tmp_path, db_url, "apply")
    assert applied.returncode == 0, applied.stderr
    assert len(_times(tmp_path, db_url, "once", "-n", "3", "--from-db")) == 1
    assert len(_times(tmp_path, db_url, "once", "-n", "3")) == 1


def test_applied_interval_yaml_and_from_db_agree(tmp_path: Path, db_url: str) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    applied = _run(tmp_path, db_url, "apply")
    assert applied.returncode == 0, applied.stderr
    time.sleep(1.1)  # the anchor is the apply; a later `now` must not move the grid
    from_db = _times(tmp_path, db_url, "tick", "-n", "4", "--from-db")
    from_yaml = _times(tmp_path, db_url, "tick", "-n", "4")
    assert from_yaml == from_db
    assert len(from_db) == 4


def test_changed_interval_in_yaml_is_anchored_as_if_applied_now(
    tmp_path: Path, db_url: str
) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    assert _run(tmp_path, db_url, "apply").returncode == 0
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES.replace("7m13s", "5m"))
    after = "2030-01-01T00:00:00Z"
    assert _times(tmp_path, db_url, "tick", "-n", "2", "--after", after) == [
        "2030-01-01T00:05:00Z",
        "2030-01-01T00:10:00Z",
    ]


def _load(tree: Path, url: str, *args: str) -> dict[str, object]:
    done = _run(tree, url, "next", "--load", *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_load_counts_every_schedule_and_agrees_with_the_table(tmp_path: Path, db_url: str) -> None:
    """`syncd next --load`: the YAML before the apply, the YAML after and `--from-db` give
    the same runs per minute (the one-off at 02:00 once, the interval every 7m13s)."""
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(SCHEDULES)
    applied = _run(tmp_path, db_url, "apply")
    assert applied.returncode == 0, applied.stderr
    # One instant for both views (a minute boundary between two calls would shift the bins).
    after = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    yaml_view = _load(tmp_path, db_url, "--after", after)
    table_view = _load(tmp_path, db_url, "--from-db", "--after", after)
    for view in (yaml_view, table_view):
        assert view["schedules"] == 2
        per_minute = view["per_minute"]
        assert isinstance(per_minute, list) and len(per_minute) == 24 * 60
        # 24 h of 7m13s (199.6 runs) and the one-off's one run
        assert sum(per_minute) in (200, 201)
    assert yaml_view["per_minute"] == table_view["per_minute"]
    assert yaml_view["per_hour"] == table_view["per_hour"]
    # Without --load, NAME is required: a usage error naming it.
    missing = _run(tmp_path, db_url, "next")
    assert missing.returncode == 64
    assert "syncd next NAME" in missing.stderr

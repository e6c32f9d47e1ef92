"""`make demo` on a machine with no servers: runs appear, and it ends by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.acceptance
REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_schedules_with_no_servers(tmp_path: Path) -> None:
    # No service URLs at all: SQLite and the embedded filesystem broker only.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env["DEMO_SECONDS"] = "25"
    done = subprocess.run(
        [sys.executable, "-m", "syncd.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Applied: 8 to create" in out
    assert "nightly-report (Europe/Berlin, at 02:00):" in out
    assert "SUCCESS heartbeat@" in out, out
    assert "Stopped beat and worker." in out

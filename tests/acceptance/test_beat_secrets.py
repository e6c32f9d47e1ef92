"""A real beat whose database and Redis are unreachable logs why, and no password: its
banner, its log lines and their tracebacks all go through the one redaction."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.acceptance.beat_process import start_beat
from tests.celery_worker import stop, worker_env

pytestmark = pytest.mark.acceptance
SECRET = "Zq9-beat-s3cret"


def test_beat_log_shows_no_password(tmp_path: Path) -> None:
    env = worker_env(
        f"postgresql://bob@127.0.0.1:1/x?password={SECRET}",
        f"redis://:{SECRET}@127.0.0.1:1/0",
        "syncd-test-beat-secrets",
        SYNCD_BEAT_POLL_INTERVAL="0.2",
    )
    beat = start_beat(env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while "password=***" not in beat.log():
            assert beat.process.poll() is None, beat.log()
            assert time.monotonic() < deadline, beat.log()
            time.sleep(0.3)
        time.sleep(2)  # a few retries' worth of log lines
    finally:
        stop(beat.process)
    log = beat.log()
    assert "password=***" in log, log
    assert SECRET not in log, log

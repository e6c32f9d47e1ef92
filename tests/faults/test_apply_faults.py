"""`syncd apply` under faults: killed at random moments, and many at once.

The table is always the old state or the new state, never a mix; the next apply succeeds;
concurrent applies serialize with no lost update.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from celeryapp.models import TaskSchedule

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]
SYNCD = str(Path(sys.executable).with_name("syncd"))
TABLE = TaskSchedule.__tablename__


def tree(folder: Path, count: int, every: str, files: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    per = count // files
    for f in range(files):
        lines = ["version: 1", "schedules:"]
        for i in range(per):
            lines += [f"  - name: job-{f * per + i:05d}", "    task: t.x", f"    every: {every}"]
        (folder / f"f{f:02d}.yaml").write_text("\n".join(lines) + "\n")
    return folder


def state(url: str) -> tuple[int, set[int | None], int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT interval_every FROM {TABLE}")).scalars().all()
            revisions = conn.execute(text("SELECT count(*) FROM syncd_revision")).scalar()
    finally:
        engine.dispose()
    return len(rows), set(rows), int(revisions or 0)


def apply(url: str, folder: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SYNCD, "--database-url", url, "apply", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_kill9_during_apply_never_half_applies(pg_url: str, tmp_path: Path) -> None:
    old = tree(tmp_path / "old", 2000, "1m")
    new = tree(tmp_path / "new", 2400, "2m", files=12)
    apply(pg_url, old)
    started = time.perf_counter()
    apply(pg_url, new)
    full = time.perf_counter() - started
    rng = random.Random(1234)
    outcomes = {"old": 0, "new": 0}
    for _ in range(50):
        apply(pg_url, old)
        assert state(pg_url)[:2] == (2000, {60})
        process = subprocess.Popen(
            [SYNCD, "--database-url", pg_url, "apply", str(new)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0, full * 1.2))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        count, values, _ = state(pg_url)
        if (count, values) == (2000, {60}):
            outcomes["old"] += 1
        else:
            assert (count, values) == (2400, {120}), (count, values)
            outcomes["new"] += 1
        apply(pg_url, new)  # the next apply succeeds
        assert state(pg_url)[:2] == (2400, {120})
    print(
        f"RELIABILITY | kill -9 of `syncd apply` at a random moment | 50 | table old "
        f"{outcomes['old']}x, new {outcomes['new']}x, never a mix; next apply succeeded 50x"
    )
    assert outcomes["old"] > 0


def test_concurrent_applies_serialize_without_lost_updates(server_url: str, tmp_path: Path) -> None:
    inputs = [tree(tmp_path / f"in{i}", 200, f"{i + 1}m", files=2) for i in range(20)]
    apply(server_url, inputs[0])
    codes: list[int] = []
    lock = threading.Lock()

    def worker(folder: Path) -> None:
        done = subprocess.run(
            [SYNCD, "--database-url", server_url, "apply", "--lock-timeout", "120", str(folder)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        with lock:
            codes.append(done.returncode)

    threads = [threading.Thread(target=worker, args=(folder,)) for folder in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(codes)) == [0], codes  # everyone waited for the lock, none failed
    count, values, _ = state(server_url)
    assert count == 200
    assert len(values) == 1  # exactly one input's state, not a mix
    (final,) = values
    winner = inputs[final // 60 - 1]
    done = subprocess.run(
        [SYNCD, "--database-url", server_url, "plan", "--detailed-exitcode", str(winner)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    print(
        "RELIABILITY | 20 concurrent applies of different inputs | 20 | serialized, all "
        "exit 0, final state = exactly one input, no lost update"
    )


def test_losers_exit_4_with_a_short_lock_timeout(server_url: str, tmp_path: Path) -> None:
    url = server_url
    big = tree(tmp_path / "big", 4000, "1m")
    apply(url, tree(tmp_path / "seed", 10, "5m", files=1))
    engine = create_engine(url)
    conn = engine.connect()
    trans = conn.begin()
    from syncd.store import APPLY_LOCK_KEY
    from syncd.store.transaction import mysql_lock_name

    mysql = url.startswith("mysql")
    if mysql:  # the named lock every apply takes on MariaDB, held by this session
        name = mysql_lock_name(conn, "apply")
        assert conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1
    else:
        conn.execute(text(f"SELECT pg_advisory_xact_lock({APPLY_LOCK_KEY})"))
    try:
        done = subprocess.run(
            [SYNCD, "--database-url", url, "apply", "--lock-timeout", "0.5", str(big)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 4, done.stderr
        assert "another apply has held the lock for more than 0.5s" in done.stderr, done.stderr
    finally:
        if mysql:
            conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
        trans.rollback()
        conn.close()
        engine.dispose()
    assert state(url)[0] == 10  # the loser changed nothing
    print(
        f"RELIABILITY | apply while another holds the lock (--lock-timeout 0.5, "
        f"{'MariaDB' if mysql else 'PostgreSQL'}) | 1 | "
        "exit 4, nothing changed"
    )

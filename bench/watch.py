"""Save -> beat heap: a real `syncd watch` and a real `celery beat` (PostgreSQL + Redis);
write a schedules file N times and time each save until the beat logs the reload.

Usage: python bench/watch.py [--saves 20]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import redis
from databases import ADMIN, REDIS

BIN = Path(sys.executable).parent
RELOAD = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/\w+\] revision (\d+): ")


def reloads(log: Path) -> list[re.Match[str]]:
    lines = log.read_text(errors="replace").splitlines()
    return [m for m in (RELOAD.match(line) for line in lines) if m]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=20)
    args = parser.parse_args()
    name = f"syncd_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(
        SYNCD_DATABASE_URL=url,
        SYNCD_REDIS_URL=REDIS,
        SYNCD_REDIS_PREFIX=prefix,
        CELERY_BROKER_PREFIX=prefix,
        TZ="UTC",
    )
    tmp = Path(tempfile.mkdtemp())
    folder = tmp / "schedules"
    folder.mkdir()
    target = folder / "s.yaml"
    target.write_text("version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1h\n")
    procs = []
    try:
        subprocess.run(
            [str(BIN / "syncd"), "apply", str(folder)], env=env, check=True, capture_output=True
        )
        beat_log = tmp / "beat.log"
        with beat_log.open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "celery"),
                        "-A",
                        "celeryapp.app",
                        "beat",
                        "-l",
                        "info",
                        "-s",
                        str(tmp / "beat"),
                    ],
                    env=env,
                    cwd=tmp,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        with (tmp / "watch.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [str(BIN / "syncd"), "watch", str(folder), "--debounce", "50"],
                    env=env,
                    cwd=tmp,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 60
        while "leading: loaded" not in beat_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, beat_log.read_text()
            time.sleep(0.1)
        time.sleep(1.5)
        latencies = []
        for i in range(args.saves):
            seen = len(reloads(beat_log))
            saved = time.time()
            target.write_text(
                f"version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: {i + 2}h\n"
            )
            deadline = time.monotonic() + 30
            while True:
                matches = reloads(beat_log)
                if len(matches) > seen:
                    stamp = datetime.strptime(matches[-1].group(1), "%Y-%m-%d %H:%M:%S,%f")
                    latencies.append(stamp.timestamp() - saved)
                    break
                assert time.monotonic() < deadline, "no reload seen"
                time.sleep(0.01)
            time.sleep(0.5)
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"\nsave -> beat heap, {args.saves} saves ({time.strftime('%Y-%m-%d')}): "
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())

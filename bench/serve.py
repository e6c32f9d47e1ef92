"""Push -> beat heap with `syncd serve`: a real git daemon on loopback as the remote, a real
`syncd serve`, a real `celery beat` (PostgreSQL + Redis). Each push is timed from the
moment `git push` returned until the beat logs the reload of the new revision.

Two modes: `poll` (serve fetches every --interval; a push waits for the next fetch, so the
latency spreads over the interval) and `webhook` (serve polls hourly; a signed
/hooks/github POST follows each push, as GitHub sends it).

Usage: python bench/serve.py [--pushes 20] [--interval 5s] [--mode poll|webhook|both]
(--interval in seconds, like 5s)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis
from databases import REDIS, create_db, drop_db

BIN = Path(sys.executable).parent
RELOAD = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/\w+\] revision (\d+): ")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
SECRET = b"bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def reloads(log: Path) -> dict[int, float]:
    out = {}
    for line in log.read_text(errors="replace").splitlines():
        match = RELOAD.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            out[int(match.group(2))] = stamp.replace(tzinfo=UTC).timestamp()
    return out


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run(mode: str, pushes: int, interval: str) -> list[float]:
    name, url = create_db()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp())
    seconds = float(interval.rstrip("s"))
    secret_file = tmp / "secret"
    secret_file.write_bytes(SECRET)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(
        SYNCD_DATABASE_URL=url,
        SYNCD_REDIS_URL=REDIS,
        SYNCD_REDIS_PREFIX=prefix,
        CELERY_BROKER_PREFIX=prefix,
        SYNCD_WEBHOOK_SECRET_FILE=str(secret_file),
        TZ="UTC",
    )
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", "remote.git")
    git(tmp, "clone", "--quiet", "remote.git", "work")
    work = tmp / "work"
    git(work, "checkout", "--quiet", "-B", "main")
    (work / "schedules").mkdir()
    target = work / "schedules" / "s.yaml"
    target.write_text("version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1h\n")
    git(work, "add", ".")
    git(work, "commit", "--quiet", "-m", "first")
    git(work, "push", "--quiet", "origin", "main")
    git_port, http_port = free_port(), free_port()
    procs = [
        subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={tmp}",
                "--listen=127.0.0.1",
                f"--port={git_port}",
                str(tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    serve_log, beat_log = tmp / "serve.log", tmp / "beat.log"
    try:
        time.sleep(0.5)
        with serve_log.open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "syncd"),
                        "serve",
                        "--repo",
                        f"git://127.0.0.1:{git_port}/remote.git",
                        "--interval",
                        interval if mode == "poll" else "1h",
                        "--listen",
                        f"127.0.0.1:{http_port}",
                        "--state-dir",
                        str(tmp / "state"),
                    ],
                    env=env,
                    cwd=tmp,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait(lambda: "applied" in serve_log.read_text(errors="replace"), 60, "the first sync")
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
        wait(lambda: "leading: loaded" in beat_log.read_text(errors="replace"), 60, "the beat")
        time.sleep(1.5)
        latencies = []
        for i in range(pushes):
            revision = i + 2
            target.write_text(
                f"version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: {i + 2}h\n"
            )
            git(work, "commit", "--quiet", "-am", f"every {i + 2}h")
            git(work, "push", "--quiet", "origin", "main")
            pushed = time.time()
            if mode == "webhook":
                body = json.dumps({"ref": "refs/heads/main"}).encode()
                sig = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
                request = urllib.request.Request(
                    f"http://127.0.0.1:{http_port}/hooks/github",
                    data=body,
                    method="POST",
                    headers={"X-Hub-Signature-256": sig, "X-GitHub-Event": "push"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 202
            wait(lambda: revision in reloads(beat_log), 120, f"revision {revision}")  # noqa: B023
            latencies.append(reloads(beat_log)[revision] - pushed)
            # Pushes land at spread points of the poll interval (golden-ratio steps), as
            # they do in life; webhooks wait a little between pushes.
            time.sleep(0.3 + ((i * 0.618) % 1.0) * (seconds if mode == "poll" else 1.0))
        return latencies
    finally:
        for proc in reversed(procs):
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
        drop_db(name)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--interval", default="5s")
    parser.add_argument("--mode", choices=["poll", "webhook", "both"], default="both")
    args = parser.parse_args()
    modes = ["webhook", "poll"] if args.mode == "both" else [args.mode]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.pushes} pushes")
    print("| mode | pushes | p50 | p95 | max |\n|---|---|---|---|---|")
    for mode in modes:
        latencies = run(mode, args.pushes, args.interval)
        label = f"poll every {args.interval}" if mode == "poll" else "webhook"
        print(
            f"| {label} | {len(latencies)} | {percentile(latencies, 0.5) * 1000:.0f} ms | "
            f"{percentile(latencies, 0.95) * 1000:.0f} ms | {max(latencies) * 1000:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: the whole loop on one machine with no servers.

It applies `schedules/` into a SQLite file, shows the plan and the next runs, then starts a
real `celery beat` and a real gevent `celery worker` on kombu's filesystem transport (an
embedded broker: a folder), and prints each run as the worker finishes it. Edit a file in
`schedules/` while it runs: the change is applied and the beat picks it up. Ctrl-C stops
everything; `DEMO_SECONDS=N` ends it by itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "CELERY_"))}
    env.update(
        SYNCD_DATABASE_URL=f"sqlite:///{workdir / 'demo.db'}",
        SYNCD_BROKER_DIR=str(workdir / "broker"),
        SYNCD_BEAT_POLL_INTERVAL="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _syncd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "syncd"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )


def _start(env: dict[str, str], workdir: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "celeryapp.app", *args],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _print_runs(url: str, stop: threading.Event, seen: set[str]) -> None:
    from syncd import store

    while not stop.wait(0.5):
        try:
            with store.connect(url) as conn:
                rows = store.finished_runs(conn)
        except Exception:  # noqa: BLE001, S112 - SQLite busy while the worker writes; try again
            continue
        for task_id, name, status, result, _done in rows:
            if task_id in seen:
                continue
            seen.add(task_id)
            value: Any = result
            with contextlib.suppress(ValueError):
                value = json.loads(result) if isinstance(result, str | bytes) else result
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            print(f"{stamp}  {status:<7} {task_id}  {name}  {json.dumps(value)[:100]}", flush=True)


def _apply_and_show(env: dict[str, str], schedules: str) -> int:
    """Plan, apply and print the next fire times: what a user does before the beat runs."""
    plan = _syncd(env, "plan", schedules)
    print(plan.stdout or plan.stderr)
    applied = _syncd(env, "apply", schedules)
    if applied.returncode != 0:
        print(applied.stderr, file=sys.stderr)
        return applied.returncode
    print(applied.stdout.splitlines()[-1] + "\n")
    for name in ("heartbeat", "nightly-report", "month-end-close"):
        nxt = _syncd(env, "next", name, schedules, "-n", "3")
        print(nxt.stdout.strip() or nxt.stderr.strip())
    return 0


def _wait(stop: threading.Event, seconds: float, procs: list[subprocess.Popen[bytes]]) -> bool:
    """Until `stop`, the deadline, or a process exits (False: one did)."""
    deadline = time.monotonic() + seconds if seconds else None
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            return True
        if any(p.poll() is not None for p in procs):
            return False
        time.sleep(0.2)
    return True


def main() -> int:
    seconds = float(os.environ.get("DEMO_SECONDS") or 0)
    workdir = Path(tempfile.mkdtemp(prefix="syncd-demo-"))
    env = _env(workdir)
    print(f"syncd demo: SQLite and an embedded broker in {workdir}; no servers needed.\n")
    schedules = "schedules"
    failed = _apply_and_show(env, schedules)
    if failed:
        return failed
    print(
        "\nStarting celery beat and a gevent worker; runs appear below "
        f"({'Ctrl-C to stop' if not seconds else f'for {seconds:g} s'}).\n",
        flush=True,
    )
    worker = _start(
        env, workdir, "worker", "worker", "-P", "gevent", "-c", "20", "-l", "warning",
        "--without-mingle", "--without-gossip",
    )  # fmt: skip
    beat = _start(env, workdir, "beat", "beat", "-l", "info", "-s", str(workdir / "beat"))
    stop = threading.Event()
    seen: set[str] = set()
    # `syncd watch` re-applies every edit of schedules/; it prints one line per apply.
    watcher = subprocess.Popen(
        [str(BIN / "syncd"), "watch", schedules, "--debounce", "300"],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    printer = threading.Thread(
        target=_print_runs, args=(env["SYNCD_DATABASE_URL"], stop, seen), daemon=True
    )
    printer.start()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if not _wait(stop, seconds, [beat, worker]):
            print("a process exited; logs are in", workdir, file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        signal.signal(signal.SIGTERM, previous)
        for proc in (watcher, beat, worker):
            _stop(proc)
        printer.join(5)
    print(f"\n{len(seen)} runs. Stopped beat and worker.")
    if os.environ.get("DEMO_KEEP") != "1":
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

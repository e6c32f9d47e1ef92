"""Sharded beats (issue 15), measured side by side in one run on PostgreSQL + Redis:

(a) load: 1 000 000 schedules over 4 shards; one beat process leading its quota of
    shards (1 shard of 4 live beats, 2 of 2): load time (its first tick), peak RSS, and
    the steady-state tick (nothing due, locks renewed, live set and revision checked);
(b) rebalance: two real `celery -A celeryapp.app beat` processes on 4 shards, one killed
    with SIGKILL: seconds until every shard is led again (Redis polled every 50 ms);
(c) burst: 100 000 runs due at one instant, one beat (N=1) against two beats (N=2, one
    shard each) in two processes: seconds from the due instant until every run is on the
    broker (both processes' ticks, started together); rounds alternate (1, 2, 1, 2, ...)
    in `--pairs` pairs, with the beats' CPU, the whole machine's busy core-seconds and the
    core-seconds the hypervisor gave to other machines (steal).

Each measurement of (a) and (c) runs in its own child process, so RSS figures do not mix.
Usage: python bench/shards.py [--size 1000000] [--burst 100000] [--pairs 3] [--kills 3]
       [--only a,b,c]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from databases import REDIS, create_db, drop_db
from machine import reference_line

ROOT = Path(__file__).resolve().parent.parent
BASE = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
SHARDS = 4


def _rows(size: int, *, burst: bool = False) -> list[dict[str, Any]]:
    rows = []
    for i in range(size):
        cron = burst or i % 2 == 1
        rows.append(
            {
                "name": f"job-{i:07d}",
                "task": "celeryapp.tasks.echo",
                "type": 1 if cron else 0,
                "crontab": (
                    "* * * * *"
                    if burst
                    else ["0 2 * * *", "*/15 * * * *", "30 8 * * 1-5", "0 0 1 * *"][i % 4]
                )
                if cron
                else None,
                "interval_every": None if cron else 3600 + i % 600,
                "interval_period": None if cron else "seconds",
                "args": [i],
                "kwargs": {"n": i},
                "enabled": True,
                "one_off": False,
                "total_run_count": 0,
                "catchup": "latest",
                "overlap": "allow",
                "managed": True,
                "timezone": "Europe/Berlin",
                "created_time": BASE,
                "schedule_changed_time": BASE + timedelta(seconds=30),
                # burst: 12:05 already ran, so the 12:06 tick sends 12:06 alone
                "last_run_time": BASE + timedelta(minutes=5) if burst else None,
            }
        )
    return rows


def _fill(url: str, size: int, *, burst: bool = False) -> None:
    from sqlalchemy import create_engine

    from syncd import store

    store.migrate(url)
    engine = create_engine(url)
    step = 100_000
    for start in range(0, size, step):
        chunk = _rows(min(step, size - start) + start, burst=burst)[start:]
        with engine.begin() as conn:
            store._insert_rows(conn, chunk)
    engine.dispose()


def _settings(url: str, prefix: str, shards: int) -> Any:
    from celeryapp.settings import Settings

    return Settings.from_env(
        {
            "SYNCD_DATABASE_URL": url,
            "SYNCD_REDIS_URL": REDIS,
            "SYNCD_REDIS_PREFIX": prefix,
            "CELERY_BROKER_PREFIX": prefix,
            "SYNCD_BEAT_SHARDS": str(shards),
            "SYNCD_BEAT_METRICS_PER_SCHEDULE": "false",
        }
    )


def _scheduler(settings: Any, now: list[datetime]) -> Any:
    from celeryapp.app import make_app
    from celeryapp.scheduler import DatabaseScheduler

    DatabaseScheduler.clock = staticmethod(lambda: now[0])
    scheduler = DatabaseScheduler(app=make_app(settings), lazy=False)
    scheduler._wait_for_signal = lambda wait: wait
    return scheduler


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM): getrusage's maxrss would carry over the parent's
    from before the exec (the parent wrote a million rows)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_load(url: str, prefix: str, live: int) -> dict[str, float]:
    """One beat among `live` (the others only heartbeat): load, RSS, steady tick."""
    import redis

    client = redis.Redis.from_url(REDIS)
    now = [BASE + timedelta(seconds=30)]
    others = {f"other-{k}": now[0].timestamp() + 3600 for k in range(live - 1)}
    if others:  # alive for the whole run: the quota is ceil(4 / live)
        client.zadd(f"{prefix}:beat:beats:{SHARDS}", others)
    scheduler = _scheduler(_settings(url, prefix, SHARDS), now)
    before = _peak_rss_mb()
    t = time.perf_counter()
    scheduler.tick()
    out = {"live": live, "load_s": time.perf_counter() - t}
    out["rss_mb"] = _peak_rss_mb()
    out["rss_before_mb"] = before
    out["shards"] = len(scheduler.shard_locks.held)
    out["schedules"] = len(scheduler.entries)
    samples = []
    for _ in range(200):
        t = time.perf_counter()
        scheduler.tick()
        samples.append(time.perf_counter() - t)
    out["tick_ms_p50"] = statistics.median(samples) * 1000
    out["tick_ms_p95"] = sorted(samples)[int(len(samples) * 0.95)] * 1000
    scheduler.close()
    client.delete(f"{prefix}:beat:beats:{SHARDS}")
    return out


def child_burst(url: str, prefix: str, shards: int, live: int, start_at: float) -> dict[str, float]:
    """Load (one of `live` beats), wait for the shared start instant, tick the burst."""
    import resource

    import redis

    client = redis.Redis.from_url(REDIS)
    now = [BASE + timedelta(minutes=5, seconds=59)]
    scheduler = _scheduler(_settings(url, prefix, shards), now)
    if shards > 1:
        # The other beat is alive from the start: each takes its own quota.
        client.zadd(f"{prefix}:beat:beats:{shards}", {f"peer-{os.getpid()}": time.time() + 3600})
    scheduler.tick()  # load; nothing due yet
    while time.time() < start_at - 0.5:  # keep the locks (nothing is due yet)
        scheduler.tick()
        time.sleep(0.5)
    loaded = len(scheduler.entries)  # what this beat leads when the burst falls due
    time.sleep(max(0.0, start_at - time.time()))
    now[0] = BASE + timedelta(minutes=6)
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.time()
    scheduler.tick()
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    scheduler.close()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"loaded": loaded, "began": began, "ended": ended, "cpu_s": cpu}


def _machine_seconds() -> tuple[float, float]:
    """(busy, stolen) core-seconds of the whole machine so far: busy is every process's
    CPU on the cores (user, nice, system, interrupts); stolen is time the hypervisor gave
    these virtual cores' turn to other machines, which neither beat had a say in."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def _child(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _clear(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def bench_load(size: int) -> list[dict[str, float]]:
    name, url = create_db()
    try:
        t = time.perf_counter()
        _fill(url, size)
        print(f"(a) {size} rows written in {time.perf_counter() - t:.0f} s", flush=True)
        out = []
        for live in (4, 2):
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            try:
                out.append(_child("load", url, prefix, str(live)))
            finally:
                _clear(prefix)
            print(f"(a) {out[-1]}", flush=True)
        return out
    finally:
        drop_db(name)


def _burst_round(url: str, size: int, beats: int) -> dict[str, float]:
    """One round: a fresh ledger and run state, `beats` processes (N = 1 for one beat,
    N = 2 with one shard each for two), their due ticks started at one instant."""
    from sqlalchemy import create_engine, text

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM syncd_dispatch_ledger"))
        conn.execute(
            text("UPDATE sys_task_scheduler SET last_run_time = :t"),
            {"t": BASE + timedelta(minutes=5)},
        )
        # The deleted ledger and the updated rows are cleaned before the round, not in it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE syncd_dispatch_ledger"))
        conn.execute(text("VACUUM ANALYZE sys_task_scheduler"))
    try:
        start_at = time.time() + 20 + size / 10_000  # after both have loaded
        shards = 1 if beats == 1 else 2
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--child",
                    "burst",
                    url,
                    prefix,
                    str(shards),
                    str(beats),
                    str(start_at),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(beats)
        ]
        time.sleep(max(0.0, start_at - time.time()))
        busy, stolen = _machine_seconds()
        results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        busy_after, stolen_after = _machine_seconds()
        assert sum(r["loaded"] for r in results) == size, results
        began = min(r["began"] for r in results)
        with engine.connect() as conn:
            published = conn.execute(
                text("SELECT count(*) FROM syncd_dispatch_ledger WHERE published_time IS NOT NULL")
            ).scalar()
        assert published == size, (beats, published)
        return {
            "seconds": max(r["ended"] for r in results) - began,
            "late_start_s": max(r["began"] for r in results) - began,
            "beat_cpu_s": sum(r["cpu_s"] for r in results),
            "machine_busy_s": busy_after - busy,
            "stolen_s": stolen_after - stolen,
        }
    finally:
        engine.dispose()
        _clear(prefix)


def _round_line(r: dict[str, float]) -> str:
    return (
        f"{r['seconds']:.2f} s (beat CPU {r['beat_cpu_s']:.2f} s, machine busy "
        f"{r['machine_busy_s']:.2f} core-s, stolen {r['stolen_s']:.2f} core-s)"
    )


def bench_burst(size: int, pairs: int) -> dict[str, Any]:
    """`pairs` pairs of rounds, one beat then two, alternating, so that a machine that
    gets busier or quieter during the run moves both sides of a pair alike."""
    name, url = create_db()
    try:
        _fill(url, size, burst=True)
        rounds: list[dict[str, Any]] = []
        for pair in range(pairs):
            one = _burst_round(url, size, 1)
            two = _burst_round(url, size, 2)
            ratio = one["seconds"] / two["seconds"]
            rounds.append({"one": one, "two": two, "speedup": ratio})
            print(
                f"(c) pair {pair + 1}: 1 beat {_round_line(one)}; 2 beats {_round_line(two)}; "
                f"speed-up {ratio:.2f}",
                flush=True,
            )
        return {
            "rounds": rounds,
            "median_speedup": statistics.median(r["speedup"] for r in rounds),
        }
    finally:
        drop_db(name)


def bench_rebalance(kills: int) -> list[float]:
    import redis

    sys.path.insert(0, str(ROOT))
    from tests.acceptance.beat_process import start_beat
    from tests.celery_worker import stop_all, worker_env

    name, url = create_db()
    out = []
    client = redis.Redis.from_url(REDIS)
    try:
        _fill(url, 1000)
        for _ in range(kills):
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            env = worker_env(url, REDIS, prefix, SYNCD_BEAT_SHARDS=str(SHARDS))
            keys = [f"{prefix}:beat:lock:{SHARDS}:{i}" for i in range(SHARDS)]
            tmp = Path(f"/tmp/syncd-bench-{prefix}")
            tmp.mkdir(parents=True)
            beats = [start_beat(env, tmp, "a"), start_beat(env, tmp, "b")]
            try:

                def holders(keys: list[str] = keys) -> list[str | None]:
                    return [v.decode() if v else None for v in client.mget(keys)]

                deadline = time.monotonic() + 120
                while not (None not in holders() and len(set(holders())) == 2):
                    assert time.monotonic() < deadline, "two beats never shared the shards"
                    time.sleep(0.1)
                time.sleep(3)  # steady state
                victim_token = holders()[0]
                victim = next(b for b in beats if victim_token and victim_token in b.log())
                killed = time.monotonic()
                os.kill(victim.process.pid, signal.SIGKILL)
                victim.process.wait(10)
                while True:
                    now = holders()
                    if None not in now and victim_token not in now:
                        break
                    time.sleep(0.05)
                out.append(time.monotonic() - killed)
                print(
                    f"(b) all {SHARDS} shards led again {out[-1]:.2f} s after kill -9", flush=True
                )
            finally:
                stop_all([b.process for b in beats])
                _clear(prefix)
    finally:
        client.close()
        drop_db(name)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3, help="burst rounds: 1 beat, then 2")
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "load":
            print(json.dumps(child_load(rest[0], rest[1], int(rest[2]))))
        else:
            print(
                json.dumps(
                    child_burst(rest[0], rest[1], int(rest[2]), int(rest[3]), float(rest[4]))
                )
            )
        return 0
    print(reference_line(), flush=True)
    only = set(args.only.split(","))
    if "b" in only:
        kills = bench_rebalance(args.kills)
        print(f"(b) rebalance after kill -9: {', '.join(f'{k:.2f}' for k in kills)} s")
    if "c" in only:
        burst = bench_burst(args.burst, args.pairs)
        print(
            f"(c) {args.burst} due at one instant: median speed-up of 2 beats over 1: "
            f"{burst['median_speedup']:.2f} over {args.pairs} pair(s)"
        )
    if "a" in only:
        for r in bench_load(args.size):
            print(
                f"(a) {args.size} schedules, 4 shards, {r['live']} live beats: leads "
                f"{r['shards']:.0f} shard(s), {r['schedules']:.0f} schedules; load "
                f"{r['load_s']:.2f} s, RSS {r['rss_mb']:.0f} MB "
                f"(before load {r['rss_before_mb']:.0f}), tick p50 {r['tick_ms_p50']:.2f} ms "
                f"p95 {r['tick_ms_p95']:.2f} ms"
            )
    print(reference_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Beat benchmark: load, RSS, tick cost, one-change reload, a 10 000-run burst beside the raw
send_task floor, and apply -> heap latency, on PostgreSQL + Redis (broker and lock), then on
MariaDB + Redis.

Each size runs in its own child process so RSS figures do not mix.
Usage: python bench/beat.py [--sizes 10000,100000] [--databases postgresql,mariadb]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from databases import REDIS, create_db, create_mysql_db, drop_db, drop_mysql_db
from machine import reference_line

ROOT = Path(__file__).resolve().parent.parent


DATABASES = {
    "postgresql": ("PostgreSQL", create_db, drop_db),
    "mariadb": ("MariaDB", create_mysql_db, drop_mysql_db),
}


def measure(size: int, burst: int, database: str = "postgresql") -> dict[str, float]:
    """Runs inside a child process: everything for one table size."""
    import resource
    from datetime import UTC, datetime, timedelta

    import redis
    from sqlalchemy import create_engine, insert, text

    from celeryapp.app import make_app
    from celeryapp.models import Revision, TaskSchedule
    from celeryapp.scheduler import DatabaseScheduler
    from celeryapp.settings import Settings, revision_key
    from syncd import store

    _, create, drop = DATABASES[database]
    name, url = create()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(REDIS)
    out: dict[str, float] = {"size": size}
    try:
        store.migrate(url)
        base = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
        engine = create_engine(url)
        rows = []
        for i in range(size):
            cron = i % 2 == 1
            rows.append(
                {
                    "name": f"job-{i:06d}",
                    "task": "celeryapp.tasks.echo",
                    "type": 1 if cron else 0,
                    "crontab": ["0 2 * * *", "*/15 * * * *", "30 8 * * 1-5", "0 0 1 * *"][i % 4]
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
                    "created_time": base,
                    # applied at the moment the beat starts: nothing missed, load is pure load
                    "schedule_changed_time": base + timedelta(seconds=30),
                }
            )
        with engine.begin() as conn:
            store._insert_rows(conn, rows)
        settings = Settings.from_env(
            {
                "SYNCD_DATABASE_URL": url,
                "SYNCD_REDIS_URL": REDIS,
                "SYNCD_REDIS_PREFIX": prefix,
                "CELERY_BROKER_PREFIX": prefix,
            }
        )
        app = make_app(settings)
        now = [base + timedelta(seconds=30)]
        DatabaseScheduler.clock = staticmethod(lambda: now[0])
        scheduler = DatabaseScheduler(app=app, lazy=False)
        # Measure the work of a tick, not the idle wait on the revision channel.
        scheduler._wait_for_signal = lambda wait: wait  # type: ignore[method-assign]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        scheduler.tick()
        out["load_s"] = time.perf_counter() - t
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["rss_before_load_mb"] = before
        assert len(scheduler.entries) == size, len(scheduler.entries)
        # steady ticks: nothing due (the clock stands still), lock renewed, revision checked
        samples = []
        for _ in range(300):
            t = time.perf_counter()
            scheduler.tick()
            samples.append(time.perf_counter() - t)
        out["tick_ms_p50"] = statistics.median(samples) * 1000
        out["tick_ms_p95"] = sorted(samples)[int(len(samples) * 0.95)] * 1000
        # one change among `size`: a revision naming one row, signalled through Redis
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"UPDATE {TaskSchedule.__tablename__} SET interval_every = 7200 "
                    "WHERE name = 'job-000000'"
                )
            )
            inserted = conn.execute(
                insert(Revision.__table__).values(
                    created_time=base, changed_names=["job-000000"], summary={}, changes=[]
                )
            ).inserted_primary_key
            assert inserted is not None
            rev = inserted[0]
        client.set(revision_key(prefix), rev)
        t = time.perf_counter()
        scheduler.tick()
        out["one_change_reload_ms"] = (time.perf_counter() - t) * 1000
        assert scheduler.revision == rev
        scheduler.close()
        # burst: `burst` schedules due in the same second -> time until all are published
        if burst:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        f"UPDATE {TaskSchedule.__tablename__} SET type = 1, "
                        "crontab = '* * * * *', last_run_time = :ran "
                        f"WHERE id <= {burst}"
                    ),
                    # 12:05 already ran: the burst tick sends 12:06 alone, not also the
                    # 12:05 that `catchup: latest` would otherwise fire as missed.
                    {"ran": base + timedelta(minutes=5)},
                )
                conn.execute(
                    text(
                        f"UPDATE {TaskSchedule.__tablename__} SET enabled = false "
                        f"WHERE id > {burst}"
                    )
                )
            now[0] = base + timedelta(minutes=5, seconds=59)
            burst_scheduler = DatabaseScheduler(app=app, lazy=False)
            burst_scheduler._wait_for_signal = lambda wait: wait  # type: ignore[method-assign]
            burst_scheduler.tick()  # load; nothing due yet
            now[0] = base + timedelta(minutes=6)
            t = time.perf_counter()
            burst_scheduler.tick()
            out["burst_s"] = time.perf_counter() - t
            with engine.connect() as conn:
                claimed = conn.execute(
                    text("SELECT count(*), min(due_time) FROM syncd_dispatch_ledger")
                ).one()
            # MySQL hands a raw DATETIME back without its (UTC) zone
            first = claimed[1] if claimed[1].tzinfo else claimed[1].replace(tzinfo=UTC)
            assert (claimed[0], first) == (burst, now[0]), claimed
            with engine.connect() as conn:
                published = conn.execute(
                    text(
                        "SELECT count(*) FROM syncd_dispatch_ledger "
                        "WHERE published_time IS NOT NULL"
                    )
                ).scalar()
            assert published == burst, published  # every claim marked as sent
            burst_scheduler.close()
            # the floor: the same number of send_task calls on one producer
            with app.producer_or_acquire() as producer:
                t = time.perf_counter()
                for i in range(burst):
                    app.send_task(
                        "celeryapp.tasks.echo",
                        args=[i],
                        kwargs={"n": i},
                        task_id=f"floor-{i}",
                        producer=producer,
                    )
                out["floor_send_task_s"] = time.perf_counter() - t
        engine.dispose()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        drop(name)
    return out


def latency(samples: int, database: str = "postgresql") -> dict[str, float]:
    """apply -> heap: a beat ticking in a thread, `syncd apply` of one change each time."""
    import tempfile
    import threading

    from celeryapp.app import make_app
    from celeryapp.scheduler import DatabaseScheduler
    from celeryapp.settings import Settings
    from syncd import sync
    from syncd.sync import Options

    _, create, drop = DATABASES[database]
    name, url = create()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(SYNCD_REDIS_PREFIX=prefix)
    stop = threading.Event()
    try:
        folder = Path(tempfile.mkdtemp())
        (folder / "s.yaml").write_text(
            "version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: 1h\n"
        )
        sync.apply(url, Options(paths=[str(folder)]), lock_timeout=30)
        settings = Settings.from_env(
            {
                "SYNCD_DATABASE_URL": url,
                "SYNCD_REDIS_URL": REDIS,
                "SYNCD_REDIS_PREFIX": prefix,
                "CELERY_BROKER_PREFIX": prefix,
            }
        )
        scheduler = DatabaseScheduler(app=make_app(settings), lazy=False)

        def loop() -> None:
            while not stop.is_set():
                time.sleep(scheduler.tick())

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        while not scheduler.leading:
            time.sleep(0.05)
        from celeryapp.signal import publish_revision

        results = []
        for i in range(samples):
            (folder / "s.yaml").write_text(
                f"version: 1\nschedules:\n  - name: x\n    task: t.x\n    every: {i + 2}h\n"
            )
            _, rev = sync.apply(url, Options(paths=[str(folder)]), lock_timeout=30)
            assert rev is not None
            publish_revision(REDIS, prefix, rev)
            t = time.perf_counter()
            while scheduler.revision != rev:
                time.sleep(0.002)
            results.append(time.perf_counter() - t)
        stop.set()
        thread.join(5)
        scheduler.close()
        results.sort()
        return {
            "p50_ms": results[len(results) // 2] * 1000,
            "p95_ms": results[int(len(results) * 0.95)] * 1000,
        }
    finally:
        stop.set()
        drop(name)
        import redis

        leftover = redis.Redis.from_url(REDIS)
        keys = list(leftover.scan_iter(match=f"{prefix}*"))
        if keys:
            leftover.delete(*keys)


def run_child(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode:
        raise SystemExit(done.stderr[-4000:])
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--databases", default="postgresql,mariadb")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database", default="postgresql", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, value = args.child.split(":")
        result = (
            measure(int(value), args.burst, args.database)
            if kind == "size"
            else latency(int(value), args.database)
        )
        print(json.dumps(result))
        return 0
    for database in args.databases.split(","):
        report(database, args.sizes, args.burst)
    return 0


def report(database: str, sizes: str, burst_size: int) -> None:
    rows = []
    for size in [int(s) for s in sizes.split(",")]:
        burst = str(burst_size if size == 10_000 else 0)
        rows.append(run_child("--child", f"size:{size}", "--burst", burst, "--database", database))
    lat = run_child("--child", "latency:40", "--database", database)
    label = DATABASES[database][0]
    print(f"\nsyncd beat, {label} + Redis ({time.strftime('%Y-%m-%d')})\n")
    print(reference_line() + "\n")
    print("| schedules | load s | RSS MB | tick ms p50 / p95 | one-change reload ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['load_s']:.2f} | {r['rss_mb']:.0f} | "
            f"{r['tick_ms_p50']:.2f} / {r['tick_ms_p95']:.2f} | "
            f"{r['one_change_reload_ms']:.1f} |"
        )
    burst = next((r for r in rows if "burst_s" in r), None)
    if burst:
        print(
            f"\nburst: {burst_size:,} due in the same second published in "
            f"{burst['burst_s']:.2f} s; raw send_task floor {burst['floor_send_task_s']:.2f} s "
            f"({burst['burst_s'] / burst['floor_send_task_s']:.2f}x)"
        )
    print(
        f"apply -> heap latency (Redis signal): p50 {lat['p50_ms']:.1f} ms, "
        f"p95 {lat['p95_ms']:.1f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())

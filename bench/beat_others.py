"""The alternatives a user would pick, at the same size and in the same way as bench/beat.py:
RedBeat's and django-celery-beat's schedulers with N interval schedules, none due —
tick cost, and (django-celery-beat) the reload after one change.

Usage: python bench/beat_others.py [--size 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import psycopg
from databases import ADMIN, REDIS


def ticks(scheduler: object, n: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        scheduler.tick()  # type: ignore[attr-defined]
        samples.append(time.perf_counter() - t)
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(n * 0.95)] * 1000


def redbeat(size: int) -> dict[str, float]:
    import redis
    from celery import Celery
    from celery.schedules import schedule
    from redbeat import RedBeatScheduler, RedBeatSchedulerEntry

    prefix = f"bench-redbeat-{uuid.uuid4().hex[:8]}:"
    app = Celery("bench", broker=REDIS)
    app.conf.update(
        redbeat_redis_url=REDIS,
        redbeat_key_prefix=prefix,
        beat_max_loop_interval=1,
        broker_transport_options={"global_keyprefix": prefix},
    )
    client = redis.Redis.from_url(REDIS)
    try:
        t = time.perf_counter()
        for i in range(size):
            RedBeatSchedulerEntry(
                f"job-{i}",
                "celeryapp.tasks.echo",
                schedule(timedelta(seconds=3600 + i % 600)),
                args=[i],
                app=app,
            ).save()
        created = time.perf_counter() - t
        scheduler = RedBeatScheduler(app=app, lazy=False)
        from types import SimpleNamespace

        from redbeat.schedulers import acquire_distributed_beat_lock

        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))
        scheduler.tick()
        p50, p95 = ticks(scheduler)
        return {"create_s": created, "tick_ms_p50": p50, "tick_ms_p95": p95}
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


def django_celery_beat(size: int) -> dict[str, float]:
    name = f"syncd_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        import django
        from django.conf import settings

        settings.configure(
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": name,
                    "USER": "postgres",
                    "HOST": "127.0.0.1",
                    "PORT": "5432",
                }
            },
            INSTALLED_APPS=["django_celery_beat"],
            USE_TZ=True,
            TIME_ZONE="UTC",
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        )
        django.setup()
        from celery import Celery
        from django.core.management import call_command
        from django_celery_beat.models import IntervalSchedule, PeriodicTask
        from django_celery_beat.schedulers import DatabaseScheduler

        call_command("migrate", verbosity=0)
        intervals = {
            s: IntervalSchedule.objects.create(every=s, period="seconds") for s in range(3600, 4200)
        }
        PeriodicTask.objects.bulk_create(
            [
                PeriodicTask(
                    name=f"job-{i}",
                    task="celeryapp.tasks.echo",
                    interval=intervals[3600 + i % 600],
                    args=json.dumps([i]),
                )
                for i in range(size)
            ],
            batch_size=2000,
        )
        from django_celery_beat.models import PeriodicTasks

        PeriodicTasks.update_changed()
        app = Celery("bench", broker=REDIS)
        app.conf.update(beat_max_loop_interval=1)
        scheduler = DatabaseScheduler(app=app, lazy=False)
        scheduler.tick()
        p50, p95 = ticks(scheduler, 100)
        task = PeriodicTask.objects.get(name="job-0")
        task.interval = intervals[3700]
        task.save()
        time.sleep(0.01)
        t = time.perf_counter()
        scheduler.tick()
        reload_ms = (time.perf_counter() - t) * 1000
        return {"tick_ms_p50": p50, "tick_ms_p95": p95, "one_change_reload_ms": reload_ms}
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        fn = redbeat if args.child == "redbeat" else django_celery_beat
        print(json.dumps(fn(args.size)))
        return 0
    results = {}
    for which in ("redbeat", "django-celery-beat"):
        done = subprocess.run(
            [sys.executable, __file__, "--child", which, "--size", str(args.size)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"{which} failed:\n{done.stderr[-2000:]}")
            continue
        results[which] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nalternatives at {args.size:,} interval schedules ({time.strftime('%Y-%m-%d')})\n")
    print("| scheduler | tick ms p50 / p95 | one-change reload ms |\n|---|---|---|")
    for which, r in results.items():
        reload_ms = r.get("one_change_reload_ms")
        shown = f"{reload_ms:.0f}" if reload_ms is not None else "n/a (reads Redis per entry)"
        print(f"| {which} | {r['tick_ms_p50']:.2f} / {r['tick_ms_p95']:.2f} | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sync benchmark: 10 000 schedules in 100 files on PostgreSQL, beside the floor and
django-celery-beat's loaddata, and the same syncd steps on MariaDB, in one run. Prints a
table; `make bench` runs it.

Each measurement runs in a fresh child process (imports done before the clock starts),
which reports its wall time and peak RSS; each step runs --repeat times and the best
counts. Usage: python bench/sync.py [--schedules N] [--repeat 3] [--skip-django]
[--skip-mariadb]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from databases import create_db, create_mysql_db, drop_db, drop_mysql_db
from machine import reference_line

ROOT = Path(__file__).resolve().parent.parent


def make_tree(folder: Path, schedules: int, files: int) -> None:
    per = schedules // files
    crons = ["0 2 * * *", "*/15 * * * *", "30 8 * * mon-fri", "0 0 1 * *", "@hourly"]
    for f in range(files):
        lines = [
            "version: 1",
            "defaults:",
            f"  queue: q{f % 7}",
            "  timezone: Europe/Berlin",
            "schedules:",
        ]
        for i in range(per):
            n = f * per + i
            lines += [f"  - name: job-{n:06d}", f"    task: app.tasks.t{n % 50}"]
            if n % 2:
                lines.append(f'    cron: "{crons[n % len(crons)]}"')
            else:
                lines.append(f"    every: {(n % 600) + 10}s")
            lines += [
                f"    args: [{n}, 'x']",
                f"    kwargs: {{k: {n}, tag: t{n % 13}}}",
                f"    description: schedule number {n}",
            ]
        (folder / f"file{f:03d}.yaml").write_text("\n".join(lines) + "\n")


def child(code: str, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run `code` in a fresh interpreter: it defines setup() and run(); report time + RSS."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, resource, time
        state = setup()
        t = time.perf_counter()
        extra = run(state)
        elapsed = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": elapsed, "peak_mb": peak, **(extra or {})}))
    """)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


SYNC_STEP = """
import sys
sys.path.insert(0, {root!r})
from syncd import sync, store
from syncd.sync import Options
URL = {url!r}
def setup():
    store.migrate(URL) if {migrate} else None
    store.engine_for(URL)  # imports the database driver before the clock starts
    return Options(paths=[{folder!r}])
def run(options):
    if {apply}:
        plan, rev = sync.apply(URL, options, lock_timeout=60)
    else:
        plan = sync.plan(URL, options)
    return {{"changes": len(plan.changes), "unchanged": plan.unchanged}}
"""

FLOOR_STEP = """
import datetime, glob, json, psycopg, yaml
COLUMNS = ("name", "task", "type", "crontab", "interval_every", "interval_period", "args",
           "kwargs", "queue", "timezone", "remark", "enabled", "one_off", "catchup", "overlap",
           "managed", "total_run_count", "created_time", "schedule_changed_time")
def setup():
    return sorted(glob.glob({folder!r} + "/*.yaml"))
def run(files):
    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for path in files:
        with open(path, "rb") as fh:
            doc = yaml.load(fh, Loader=yaml.CSafeLoader)
        d = doc.get("defaults", {{}})
        for s in doc["schedules"]:
            cron = s.get("cron")
            every = None if cron else int(s["every"].rstrip("s"))
            rows.append((s["name"], s["task"], 1 if cron else 0, cron, every,
                         None if cron else "seconds", json.dumps(s.get("args")),
                         json.dumps(s.get("kwargs")), s.get("queue", d.get("queue")),
                         s.get("timezone", d.get("timezone")), s.get("description"), True,
                         False, "latest", "allow", True, 0, now, now))
    with psycopg.connect({url!r}) as conn:
        cols = ", ".join(COLUMNS)
        with conn.cursor().copy(f"COPY sys_task_scheduler ({{cols}}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    return {{"rows": len(rows)}}
"""

DJANGO_STEP = """
import json, os, sys, glob, yaml, django
from django.conf import settings
settings.configure(
    DATABASES={{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": {dbname!r},
                              "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"}}}},
    INSTALLED_APPS=["django_celery_beat"], USE_TZ=True, TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.AutoField")
django.setup()
from django.core.management import call_command
def setup():
    call_command("migrate", verbosity=0)
    fixture = []
    crons, intervals = {{}}, {{}}
    pk = 0
    for path in sorted(glob.glob({folder!r} + "/*.yaml")):
        doc = yaml.load(open(path, "rb"), Loader=yaml.CSafeLoader)
        for s in doc["schedules"]:
            pk += 1
            task = {{"model": "django_celery_beat.periodictask", "pk": pk, "fields": {{
                "name": s["name"], "task": s["task"], "args": json.dumps(s.get("args", [])),
                "kwargs": json.dumps(s.get("kwargs", {{}})), "queue": doc["defaults"]["queue"],
                "description": s.get("description", ""), "enabled": True,
                "date_changed": "2026-01-01T00:00:00Z", "total_run_count": 0,
                "one_off": False, "headers": "{{}}"}}}}
            if "cron" in s:
                expr = s["cron"].replace("@hourly", "0 * * * *").split()
                key = tuple(expr)
                if key not in crons:
                    crons[key] = len(crons) + 1
                    fixture.append({{"model": "django_celery_beat.crontabschedule",
                                    "pk": crons[key], "fields": {{"minute": expr[0],
                                    "hour": expr[1], "day_of_month": expr[2],
                                    "month_of_year": expr[3], "day_of_week": expr[4],
                                    "timezone": "Europe/Berlin"}}}})
                task["fields"]["crontab"] = crons[key]
            else:
                secs = int(s["every"].rstrip("s"))
                if secs not in intervals:
                    intervals[secs] = len(intervals) + 1
                    fixture.append({{"model": "django_celery_beat.intervalschedule",
                                    "pk": intervals[secs], "fields": {{"every": secs,
                                    "period": "seconds"}}}})
                task["fields"]["interval"] = intervals[secs]
            fixture.append(task)
    path = {fixture!r}
    json.dump(fixture, open(path, "w"))
    return path
def run(path):
    call_command("loaddata", path, verbosity=0)
    return {{}}
"""


def mariadb_steps(repeat: int, folder: Path, one: Path, best: Any) -> None:
    """The syncd steps again on MariaDB (mysql+pymysql): cold apply on a fresh database
    each time, then plans and applies against the last one. No floor: COPY is PostgreSQL's."""
    original = one.read_text()
    names: list[str] = []
    try:
        for _ in range(repeat):
            name, url = create_mysql_db()
            names.append(name)
            fmt = {"root": str(ROOT), "url": url, "folder": str(folder)}
            best(
                "MariaDB: syncd cold apply",
                lambda f=fmt: child(SYNC_STEP.format(**f, migrate=True, apply=True)),
            )
        for rep in range(repeat):
            best(
                "MariaDB: syncd no-op plan",
                lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=False)),
            )
            one.write_text(original.replace("schedule number", f"schedule nr. {rep}"))
            best(
                "MariaDB: syncd plan, one file changed",
                lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=False)),
            )
            best(
                "MariaDB: syncd apply, one file changed",
                lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=True)),
            )
            best(
                "MariaDB: syncd no-op apply",
                lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=True)),
            )
    finally:
        one.write_text(original)
        for name in names:
            drop_mysql_db(name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--skip-django", action="store_true")
    parser.add_argument("--skip-mariadb", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the best counts")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    ratios: list[float] = []
    syncd_bin = str(Path(sys.executable).with_name("syncd"))

    def best(step: str, run: Any) -> None:
        """Keep the fastest of the repeats (the machine is shared: noise only adds)."""
        r = run()
        if step not in results or r["seconds"] < results[step]["seconds"]:
            results[step] = r

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "schedules"
        folder.mkdir()
        make_tree(folder, args.schedules, args.files)
        dbs: list[str] = []
        try:
            # Cold apply and floor side by side, each on a fresh database, interleaved so
            # both see the same machine; the ratio is taken per pair.
            for _ in range(args.repeat):
                name, url = create_db()
                dbs.append(name)
                fmt = {"root": str(ROOT), "url": url, "folder": str(folder)}
                cold = child(SYNC_STEP.format(**fmt, migrate=True, apply=True))
                fname, furl = create_db()
                dbs.append(fname)
                # The floor writes the same rows into the same table (columns, indexes),
                # made by `syncd migrate` outside the measured process.
                subprocess.run(
                    [syncd_bin, "--database-url", furl, "migrate"], check=True, capture_output=True
                )
                floor_run = child(FLOOR_STEP.format(folder=str(folder), url=furl))
                ratios.append(cold["seconds"] / floor_run["seconds"])
                best("syncd cold apply", lambda r=cold: r)
                best("floor: C-loader parse + COPY", lambda r=floor_run: r)
            one = folder / "file042.yaml"
            original = one.read_text()
            for rep in range(args.repeat):
                best(
                    "syncd no-op plan",
                    lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=False)),
                )
                # One file differs from the table, a different edit each time.
                one.write_text(original.replace("schedule number", f"schedule no. {rep}"))
                best(
                    "syncd plan, one file changed",
                    lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=False)),
                )
                best(
                    "syncd apply, one file changed",
                    lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=True)),
                )
                best(
                    "syncd no-op apply",
                    lambda: child(SYNC_STEP.format(**fmt, migrate=False, apply=True)),
                )

                def cli_plan() -> dict[str, float]:
                    start = time.perf_counter()
                    done = subprocess.run(
                        [syncd_bin, "--database-url", url, "plan", str(folder)],
                        capture_output=True,
                        text=True,
                        check=False,
                    )
                    assert done.returncode == 0, done.stderr
                    return {"seconds": time.perf_counter() - start, "peak_mb": float("nan")}

                best("syncd plan CLI (whole process)", cli_plan)
            if not args.skip_django:
                dname, _ = create_db()
                dbs.append(dname)
                results["django-celery-beat loaddata"] = child(
                    DJANGO_STEP.format(
                        dbname=dname, folder=str(folder), fixture=str(Path(tmp) / "fx.json")
                    )
                )
            one.write_text(original)
            if not args.skip_mariadb:
                mariadb_steps(args.repeat, folder, one, best)
        finally:
            for name in dbs:
                drop_db(name)
    floor = results["floor: C-loader parse + COPY"]["seconds"]
    print(
        f"\n{args.schedules} schedules in {args.files} files, PostgreSQL (MariaDB: the "
        "MariaDB rows) "
        f"({time.strftime('%Y-%m-%d')})\n"
    )
    print(reference_line() + "\n")
    print("| step | seconds | × floor | peak RSS MB |\n|---|---|---|---|")
    for step, r in results.items():
        print(f"| {step} | {r['seconds']:.3f} | {r['seconds'] / floor:.2f} | {r['peak_mb']:.0f} |")
    print(
        f"\nbest of {args.repeat} runs per step; cold apply / floor per side-by-side pair: "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + f" (median {statistics.median(ratios):.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

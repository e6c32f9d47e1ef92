"""The wheel is the product: installed into a fresh venv outside the checkout, its
programs run from scratch directories that are not the checkout — every CLI command, a
real beat and gevent worker running a task, Flower, and the pre-commit hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis

from tests.acceptance.beat_process import start_beat
from tests.acceptance.installed import REPO, Installed
from tests.acceptance.test_flower import PASSWORD, free_port, get
from tests.celery_worker import celery_worker, stop, wait_for, worker_env
from tests.dockerfile import argv, healthcheck, stages
from tests.probes import probe, runs

pytestmark = pytest.mark.acceptance
PROBE_KEY_TIMEOUT = 120.0


def run(installed: Installed, cwd: Path, env: Mapping[str, str], *argv: str, code: int = 0) -> str:
    done = subprocess.run(
        [installed.program(argv[0]), *argv[1:]],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == code, (argv, done.returncode, done.stdout, done.stderr)
    return done.stdout


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def scratch_repo(root: Path, body: str) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "ci@example.com")
    git(root, "config", "user.name", "ci")
    (root / "schedules").mkdir()
    (root / "schedules" / "a.yaml").write_text("version: 1\nschedules:\n" + body)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def test_the_package_is_the_installed_wheel_not_the_checkout(
    installed: Installed, tmp_path: Path
) -> None:
    out = run(
        installed,
        tmp_path,
        installed.env(),
        "python",
        "-c",
        "import syncd, celeryapp; print(syncd.__file__); print(celeryapp.__file__)",
    )
    for line in out.splitlines():
        assert Path(line).is_relative_to(installed.venv), line
        assert not Path(line).is_relative_to(REPO), line


def test_the_images_commands_exist_in_the_wheel_and_run(
    installed: Installed, tmp_path: Path
) -> None:
    """The Dockerfile puts the venv's bin first on PATH and calls syncd and celery from it;
    its HEALTHCHECK and CMD run as they would in the container."""
    runtime = stages()[-1]
    (cmd,) = runtime.all("CMD")
    for name in ("syncd", "celery", "python"):
        assert (installed.bin / name).is_file(), name
    env = installed.env(SYNCD_DATABASE_URL=f"sqlite:///{tmp_path / 'syncd.db'}")
    env.pop("SYNCD_REDIS_URL", None)
    run(installed, tmp_path, env, "syncd", "migrate")
    for command in (healthcheck(runtime), argv(cmd)):
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    # the health check fails when the database cannot be reached
    env["SYNCD_DATABASE_URL"] = "postgresql://syncd:x@127.0.0.1:1/syncd"
    done = subprocess.run(
        healthcheck(runtime), cwd=tmp_path, env=env, capture_output=True, timeout=120, check=False
    )
    assert done.returncode != 0


def test_every_cli_command_from_the_wheel(
    installed: Installed, pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    repo = scratch_repo(
        tmp_path / "repo",
        "  - name: a\n    task: celeryapp.tasks.echo\n    every: 30s\n    args: [1]\n",
    )
    env = installed.env(
        worker_env(pg_url, redis_url, redis_prefix), SYNCD_CELERY_APP="celeryapp.app"
    )
    assert (
        run(installed, repo, env, "syncd", "schema").encode()
        == (REPO / "syncd" / "schemas" / "schedule.schema.json").read_bytes()
    )
    assert "1 schedule valid." in run(installed, repo, env, "syncd", "validate")
    # task names are checked against the installed app's registry (example tasks ship)
    (repo / "schedules" / "b.yaml").write_text(
        "version: 1\nschedules:\n  - name: b\n    task: celeryapp.tasks.ecko\n    every: 1m\n"
    )
    invalid = run(installed, repo, env, "syncd", "validate", "--format", "json", code=1)
    assert "celeryapp.tasks.echo" in invalid  # did you mean
    (repo / "schedules" / "b.yaml").unlink()

    assert "current schema" in run(installed, repo, env, "syncd", "migrate")
    plan = json.loads(run(installed, repo, env, "syncd", "plan", "--format", "json"))
    assert plan["summary"]["create"] == 1
    assert "revision 1" in run(installed, repo, env, "syncd", "apply")
    assert redis.Redis.from_url(redis_url).get(f"{redis_prefix}:revision") == b"1"
    fire = json.loads(
        run(
            installed,
            repo,
            env,
            "syncd",
            "next",
            "a",
            "-n",
            "3",
            "--after",
            "2026-03-08T00:00:00Z",
            "--format",
            "json",
        )
    )
    assert len(fire["fire_times"]) == 3
    (repo / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: celeryapp.tasks.echo\n    every: 45s\n"
    )
    diff = json.loads(
        run(installed, repo, env, "syncd", "diff", "--base", "main", "--format", "json")
    )
    assert [c["action"] for c in diff["changes"]] == ["update"]
    exported = run(installed, repo, env, "syncd", "export")
    assert "name: a" in exported
    assert "every: 30s" in exported
    # serve applies the commit, not the edited working tree: nothing to change.
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    served = run(
        installed,
        tmp_path,
        env,
        "syncd",
        "serve",
        "--repo",
        f"file://{repo}",
        "--once",
        "--state-dir",
        str(tmp_path / "serve-state"),
    )
    assert f"apply: applied {head[:12]}" in served
    # exit 6: no beat runs here, so the health check says so; the sync state is reported
    status = json.loads(
        run(installed, tmp_path, env, "syncd", "status", "--format", "json", code=6)
    )
    assert status["controllers"][0]["live"]["commit"] == head
    assert status["controllers"][0]["state"] == "synced"


def test_migrate_and_apply_from_the_wheel_on_mariadb(
    installed: Installed, mysql_url: str, tmp_path: Path
) -> None:
    """MariaDB needs nothing beyond the wheel: pymysql is one of its dependencies (not an
    extra), installed into the venv with it, and `migrate`/`apply` work on a mysql+pymysql
    URL from there."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        (metadata,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in wheel.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    pymysql = [r for r in requires if r.lower().startswith("pymysql")]
    assert pymysql and all("extra ==" not in r for r in pymysql), requires
    env = installed.env(SYNCD_DATABASE_URL=mysql_url)
    env.pop("SYNCD_REDIS_URL", None)
    driver = run(
        installed, tmp_path, env, "python", "-c", "import pymysql; print(pymysql.__file__)"
    )
    assert Path(driver.strip()).is_relative_to(installed.venv), driver
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: celeryapp.tasks.echo\n"
        "    cron: '0 3 * * *'\n    timezone: Europe/Paris\n    kwargs: {note: 'café 🚀'}\n"
    )
    run(installed, tmp_path, env, "syncd", "migrate")
    assert "current schema" in run(installed, tmp_path, env, "syncd", "migrate")
    assert "revision 1" in run(installed, tmp_path, env, "syncd", "apply", str(folder))
    plan = json.loads(
        run(installed, tmp_path, env, "syncd", "plan", str(folder), "--format", "json")
    )
    assert plan["summary"]["create"] == plan["summary"]["update"] == 0, plan["summary"]
    exported = run(installed, tmp_path, env, "syncd", "export")
    assert "café 🚀" in exported and "Europe/Paris" in exported, exported


def test_beat_and_gevent_worker_from_the_wheel_run_a_task(
    installed: Installed, pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = installed.env(worker_env(pg_url, redis_url, redis_prefix))
    key = f"{redis_prefix}:probe"
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "s.yaml").write_text("version: 1\nschedules:\n" + probe("tick", key))
    run(installed, tmp_path, env, "syncd", "apply", str(folder))
    client = redis.Redis.from_url(redis_url)
    celery = installed.program("celery")
    with celery_worker(env, tmp_path, celery=celery) as worker:
        beat = start_beat(env, tmp_path, celery=celery)
        try:
            ran = wait_for(lambda: runs(client, key), PROBE_KEY_TIMEOUT, what="a scheduled run")
        except AssertionError:
            raise AssertionError(f"beat:\n{beat.log()}\nworker:\n{worker.log()}") from None
        finally:
            stop(beat.process)
    task_id, _ = ran[0]
    assert task_id.startswith("tick@") and task_id.endswith("Z"), task_id
    assert str(installed.venv) in " ".join(worker.process.args)  # type: ignore[arg-type]


def test_flower_from_the_wheel_answers_401_without_credentials(
    installed: Installed, redis_url: str, redis_prefix: str, pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    auth = f"tester:{PASSWORD}"
    env = installed.env(worker_env(pg_url, redis_url, redis_prefix), FLOWER_BASIC_AUTH=auth)
    log_path = tmp_path / "flower.log"
    with log_path.open("wb") as log:
        flower = subprocess.Popen(
            [
                installed.program("python"),
                "-m",
                "celeryapp.flower",
                f"--port={port}",
                "--address=127.0.0.1",
            ],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> int:
            if flower.poll() is not None:
                raise AssertionError(log_path.read_text(errors="replace"))
            try:
                return get(f"http://127.0.0.1:{port}/flower/", auth)[0]
            except OSError:
                time.sleep(0.3)
                return 0

        assert wait_for(answers, 90, what="Flower to answer") == 200
        assert get(f"http://127.0.0.1:{port}/flower/")[0] == 401
    finally:
        stop(flower)


def test_pre_commit_try_repo_catches_a_duplicate_across_an_edited_and_an_unedited_file(
    tmp_path: Path,
) -> None:
    """pre-commit installs the project as a package in its own env (from the index), then
    runs the hook on one changed file; the name it duplicates is in an unchanged file."""
    repo = scratch_repo(tmp_path / "repo", "  - name: shared\n    task: t.a\n    every: 30s\n")
    (repo / "schedules" / "b.yaml").write_text(
        "version: 1\nschedules:\n  - name: shared\n    task: t.b\n    every: 1m\n"
    )
    git(repo, "add", "schedules/b.yaml")
    pre_commit = str(Path(sys.executable).with_name("pre-commit"))
    done = subprocess.run(
        [pre_commit, "try-repo", str(REPO), "syncd-validate", "--files", "schedules/b.yaml"],
        cwd=repo,
        env={**clean_env(), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "name.duplicate" in out, out
    assert "schedules/a.yaml" in out and "schedules/b.yaml" in out, out


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "PYTHON"))}

"""Day-to-day commands as a person runs them: diff for a pull request, watch while editing,
export and status — real `syncd` processes, real databases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from celeryapp.models import TaskSchedule

pytestmark = pytest.mark.acceptance
SYNCD = str(Path(sys.executable).with_name("syncd"))
REPO = Path(__file__).resolve().parents[2]


def run(
    *args: str, cwd: Path, check: int | None = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SYNCD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if check is not None:
        assert done.returncode == check, (done.stdout, done.stderr)
    return done


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_diff_against_a_git_ref_needs_no_database(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "ci@example.com")
    git(tmp_path, "config", "user.name", "ci")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 30s\n"
        "  - name: gone\n    task: t.g\n    cron: '@daily'\n"
    )
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "schedules" / "a.yaml").write_text(
        "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 45s\n"
    )
    (tmp_path / "schedules" / "b.yaml").write_text(
        "version: 1\nschedules:\n  - name: b\n    task: t.b\n    every: 1m\n"
    )
    data = json.loads(run("diff", "--base", "HEAD", "--format", "json", cwd=tmp_path).stdout)
    assert [(c["action"], c["name"]) for c in data["changes"]] == [
        ("update", "a"),
        ("create", "b"),
        ("delete", "gone"),
    ]
    assert data["changes"][0]["fields"] == {"every": {"old": "30s", "new": "45s"}}
    assert data["changes"][1]["source"] == "schedules/b.yaml:3"
    markdown = run("diff", "--base", "HEAD", "--format", "markdown", cwd=tmp_path).stdout
    assert "1 to create, 1 to update, 1 to delete" in markdown
    assert not (tmp_path / "syncd.db").exists()
    (tmp_path / "schedules" / "b.yaml").write_text("version: 1\nschedules:\n  - name: B\n")
    bad = run("diff", "--base", "HEAD", "--format", "github", cwd=tmp_path, check=1)
    assert "::error file=schedules/b.yaml,line=3" in bad.stdout
    (tmp_path / "schedules" / "b.yaml").unlink()
    unknown = run("diff", "--base", "origin/nope", cwd=tmp_path, check=3)
    assert "unknown git ref" in unknown.stderr


def test_export_round_trips_with_no_changes(db_url: str, tmp_path: Path) -> None:
    run("--database-url", db_url, "apply", str(REPO / "schedules"), cwd=tmp_path)
    run("--database-url", db_url, "export", "--out", str(tmp_path / "exported"), cwd=tmp_path)
    files = sorted(p.name for p in (tmp_path / "exported").iterdir())
    assert files == ["health.yaml", "maintenance.yaml", "reports.yaml"]
    run("--database-url", db_url, "validate", str(tmp_path / "exported"), cwd=tmp_path)
    plan = run(
        "--database-url",
        db_url,
        "plan",
        "--detailed-exitcode",
        "--format",
        "json",
        str(tmp_path / "exported"),
        cwd=tmp_path,
        check=0,
    )
    assert json.loads(plan.stdout)["changes"] == []
    single = run("--database-url", db_url, "export", cwd=tmp_path).stdout
    assert single.count("- name:") == 8


def test_status_reports_revision_and_drift(server_url: str, tmp_path: Path) -> None:
    env = {"SYNCD_GIT_COMMIT": "cafe", "SYNCD_ACTOR": "bob"}
    run("--database-url", server_url, "apply", str(REPO / "schedules"), cwd=tmp_path, env=env)
    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {TaskSchedule.__tablename__} SET queue = 'x' WHERE name = 'heartbeat'")
        )
    engine.dispose()
    data = json.loads(
        run(
            "--database-url", server_url, "status", "--format", "json", cwd=tmp_path, check=6
        ).stdout
    )
    assert data["revision"] == 1
    assert (data["last_apply"]["commit"], data["last_apply"]["actor"]) == ("cafe", "bob")
    assert data["drift"] == ["heartbeat"]
    assert data["schedules"]["managed"] == 8
    text_out = run("--database-url", server_url, "status", cwd=tmp_path, check=6).stdout
    assert "drift:     heartbeat" in text_out


def test_watch_applies_edits_and_keeps_the_last_good_state(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    target = folder / "a.yaml"
    target.write_text("version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 30s\n")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    log = (tmp_path / "watch.log").open("w")
    process = subprocess.Popen(
        [
            SYNCD,
            "--database-url",
            url,
            "watch",
            str(folder),
            "--format",
            "json",
            "--debounce",
            "100",
        ],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def events() -> list[dict[str, object]]:
        lines = (tmp_path / "watch.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait(n: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + 60
        while len(events()) < n:
            assert process.poll() is None, (tmp_path / "watch.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "watch.log").read_text()
            time.sleep(0.1)
        return events()

    try:
        assert wait(1)[0]["revision"] == 1
        time.sleep(0.5)  # let the watcher settle before the first edit
        target.write_text("version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 45s\n")
        assert wait(2)[1]["revision"] == 2
        target.write_text("version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 0s\n")
        invalid = wait(3)[2]
        assert invalid["status"] == "invalid"
        assert "duration.too-short" in json.dumps(invalid["errors"])
        # editors that save by rename: write elsewhere, then move over the file
        tmp = folder / ".a.yaml.swp"
        tmp.write_text(
            "version: 1\nschedules:\n  - name: a\n    task: t.a\n    every: 1m\n"
            "  - name: b\n    task: t.b\n    cron: '@daily'\n"
        )
        tmp.replace(target)
        fourth = wait(4)[3]
        assert fourth["revision"] == 3
        assert sorted(fourth["changed"]) == ["a", "b"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(f"SELECT name, interval_every FROM {TaskSchedule.__tablename__}")
            ).all()
        )
    engine.dispose()
    assert rows == {"a": 60, "b": None}

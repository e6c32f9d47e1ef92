"""The read-only page (issue 14): `syncd ui` over HTTP after a real beat and worker ran the
example schedules, behind basic auth, rendered in headless Chromium (screenshots for the
docs with SYNCD_SAVE_SCREENSHOT=1); the same page on `syncd serve`'s listener; and the
schedules page over 10 000 schedules, timed on the server."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.acceptance.beat_process import beats
from tests.celery_worker import celery_worker, stop, wait_for, worker_env
from tests.probes import SYNCD

pytestmark = pytest.mark.acceptance

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "ops", "plinth-Quokka-47-harbour"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
BEAT = {"SYNCD_BEAT_LOCK_TTL": "3", "SYNCD_BEAT_MAX_INTERVAL": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, auth: str | None = AUTH) -> tuple[int, str, float]:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            body = answer.read().decode()
            return answer.status, body, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), time.perf_counter() - started


def _ran(env: dict[str, str], name: str) -> bool:
    done = subprocess.run(
        [SYNCD, "show", name, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and '"outcome": "success"' in done.stdout


def _syncd(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([SYNCD, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@contextmanager
def ui(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / f"ui-{port}.log").open("wb")
    process = subprocess.Popen(
        [SYNCD, "ui", "--listen", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}/ui"
    try:
        wait_for(lambda: _answers(base), 30, what="syncd ui to answer")
        yield base
    finally:
        stop(process)
        log.close()


def _answers(base: str) -> bool:
    try:
        return get(base + "/revisions")[0] in (200, 401)
    except OSError:
        return False


def _screenshot(url: str, tmp_path: Path, name: str) -> None:
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("no chromium on this machine (.ci/run installs it)")
    shot = tmp_path / f"{name}.png"
    subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'chrome'}",
            f"--screenshot={shot}", "--window-size=1400,900",
            url.replace("http://", f"http://{USER}:{PASSWORD}@"),
        ],
        capture_output=True,
        timeout=90,
        check=False,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 10_000, name
    if os.environ.get("SYNCD_SAVE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "img" / f"{name}.png")


def test_the_page_after_real_runs_in_chromium(tmp_path: Path, redis_prefix: str) -> None:
    env = worker_env(
        f"sqlite:///{tmp_path / 'syncd.db'}",
        None,
        redis_prefix,
        SYNCD_BROKER_DIR=str(tmp_path / "broker"),
        SYNCD_UI_BASIC_AUTH=f"{USER}:{PASSWORD}",
        **BEAT,
    )
    _syncd(env, "apply", str(REPO / "schedules"))
    with celery_worker(env, tmp_path), beats(env, tmp_path) as (beat,):
        wait_for(lambda: beat.leading, 60, what="the beat to lead")
        wait_for(lambda: _ran(env, "heartbeat"), 60, interval=1, what="heartbeat to run")
        _syncd(env, "pause", "weekday-digest", "--reason", "CRM migration", "--until", "2h")
        with ui(env, tmp_path) as base:
            assert get(base + "/", auth=None)[0] == 401
            assert get(base + "/", auth="Basic " + base64.b64encode(b"ops:nope").decode())[0] == 401
            status, body, _ = get(base + "/")
            assert status == 200 and "heartbeat" in body and "paused: CRM migration" in body
            assert "beat leader" in body  # the live leader in the header
            status, body, _ = get(base + "/schedules/heartbeat")
            assert status == 200 and "success" in body and "heartbeat@" in body
            assert get(base + "/schedules/nope")[0] == 404
            status, body, _ = get(base + "/revisions/2")
            assert status == 200 and "pause" in body
            status, body, _ = get(base + "/load")
            assert status == 200 and body.count("<svg") == 2
            for path, name in (
                ("/", "page-schedules"),
                ("/schedules/heartbeat", "page-schedule"),
                ("/revisions", "page-revisions"),
            ):
                _screenshot(base + path, tmp_path, name)


def test_ten_thousand_schedules_are_one_page_request(tmp_path: Path, redis_prefix: str) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    lines = ["version: 1", "schedules:"]
    crons = ["0 0 * * *", "*/15 * * * *", "30 8 * * mon-fri", "@hourly"]
    for n in range(10_000):
        lines += [f"  - name: tenant-{n:05d}", "    task: celeryapp.tasks.echo"]
        lines.append(f'    cron: "{crons[n % 4]}"' if n % 2 else f"    every: {(n % 600) + 10}s")
    (folder / "tenants.yaml").write_text("\n".join(lines) + "\n")
    env = worker_env(f"sqlite:///{tmp_path / 'syncd.db'}", None, redis_prefix)
    _syncd(env, "apply", str(folder))
    with ui(env, tmp_path) as base:
        timings = []
        for _ in range(3):
            status, body, took = get(base + "/", auth=None)
            assert status == 200 and "10000 shown of 10000" in body
            timings.append(took)
        status, body, took_load = get(base + "/load", auth=None)
        assert status == 200 and 'class="hot"' in body  # the herd at 00:00 and :00
        _screenshot(base + "/load", tmp_path, "page-load")
    print(
        f"PAGE | 10 000 schedules | GET /ui/ {min(timings):.2f} s best of 3 "
        f"({', '.join(f'{t:.2f}' for t in timings)}) | GET /ui/load {took_load:.2f} s"
    )


def test_the_page_on_the_serve_listener(tmp_path: Path) -> None:
    """The listener serves /ui/ with a Site (credentials set) and says how to turn it on
    without one."""
    from celeryapp.settings import Settings
    from syncd.listener import make_server
    from syncd.pagesite import Auth, Site

    url = f"sqlite:///{tmp_path / 'syncd.db'}"
    env = worker_env(url, None, "page")
    _syncd(env, "apply", str(REPO / "schedules"))
    alive = threading.Event()
    auth = Auth(users=((USER, PASSWORD),))
    site = Site(Settings.from_env({"SYNCD_DATABASE_URL": url}), auth, print)
    for served, expect in ((site, 200), (None, 404)):
        server = make_server(
            ("127.0.0.1", 0),
            None,
            secret=None,
            loop_alive=alive,
            site=served,  # type: ignore[arg-type]
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/ui"
            status, body, _ = get(base + "/")
            assert status == expect, body
            if served is None:
                assert "SYNCD_UI_BASIC_AUTH" in body
            else:
                assert "nightly-report" in body and get(base + "/", auth=None)[0] == 401
        finally:
            server.shutdown()
            server.server_close()

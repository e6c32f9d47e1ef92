"""Flower: refused without safe credentials; with them, 401 for strangers and the worker
listed for the operator — a real worker, a real Flower, real Redis."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from celeryapp.flower import RefusedCredentials, check_credentials
from tests.celery_worker import celery_worker, stop, worker_env

pytestmark = pytest.mark.acceptance
PASSWORD = "correct-horse-9"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "admin",
        "admin:",
        ":pw",
        "admin:123456",
        "admin:admin",
        "guest:guest",
        "ops:short",
        "ok:long-enough-1,admin:123456",
        "admin:changeme",
        "admin:12345678",
        "admin:password1",
        "ops:qwertyuiop",
        "ops:ops-ops-ops",
        "celery:celery123",
    ],
)
def test_unsafe_credentials_are_refused(value: str | None) -> None:
    with pytest.raises(RefusedCredentials):
        check_credentials(value)


def test_safe_credentials_pass() -> None:
    assert check_credentials(f"ops:{PASSWORD},ci:another-secret") == [
        ("ops", PASSWORD),
        ("ci", "another-secret"),
    ]


@pytest.mark.parametrize("value", [None, "admin:123456"])
def test_launcher_exits_64_and_says_what_to_set(value: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    if value is not None:
        env["FLOWER_BASIC_AUTH"] = value
    done = subprocess.run(
        [sys.executable, "-m", "celeryapp.flower"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64
    assert "FLOWER_BASIC_AUTH" in done.stderr
    assert "123456" not in done.stderr  # the password itself is never echoed


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--basic-auth=admin:123456"], {}),
        (["--basic-auth", "admin:123456"], {}),
        (["--port=1", "--basic_auth=x:y"], {}),
        ([], {"FLOWER_UNAUTHENTICATED_API": "true"}),
    ],
)
def test_launcher_refuses_what_would_bypass_the_credentials(
    argv: list[str], env: dict[str, str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "celeryapp.flower", *argv],
        env={**os.environ, "FLOWER_BASIC_AUTH": f"ops:{PASSWORD}", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64, done.stderr
    assert "123456" not in done.stderr and PASSWORD not in done.stderr


def test_make_flower_binds_loopback_unless_told() -> None:
    def dry(*args: str) -> str:
        return subprocess.run(
            ["make", "-n", "-W", "pyproject.toml", *args, "flower"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    assert "FLOWER_ADDRESS=127.0.0.1 " in dry()
    assert "FLOWER_ADDRESS=0.0.0.0 " in dry("FLOWER_ADDRESS=0.0.0.0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_flower_with_a_real_worker(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = worker_env(pg_url, redis_url, redis_prefix)
    port = free_port()
    auth = f"tester:{PASSWORD}"
    with celery_worker(env, tmp_path) as worker:
        log = (tmp_path / "flower.log").open("wb")
        flower = subprocess.Popen(
            [sys.executable, "-m", "celeryapp.flower", f"--port={port}", "--address=127.0.0.1"],
            env={**env, "FLOWER_BASIC_AUTH": auth},
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}/flower"
            deadline = time.monotonic() + 60
            listed = b""
            while time.monotonic() < deadline:
                try:
                    status, body = get(f"{base}/api/workers?refresh=1", auth)
                except OSError:
                    time.sleep(0.5)
                    continue
                if status == 200 and worker.hostname.split("@")[0].encode() in body:
                    listed = body
                    break
                time.sleep(0.5)
            assert listed, (tmp_path / "flower.log").read_text(errors="replace")
            assert any(
                name.startswith(worker.hostname.split("@")[0]) for name in json.loads(listed)
            )
            assert get(f"{base}/api/workers")[0] == 401
            assert get(f"{base}/metrics")[0] == 401
            assert get(f"{base}/metrics", "tester:wrong-password")[0] == 401
            status, metrics = get(f"{base}/metrics", auth)
            assert status == 200 and b"flower_" in metrics
            assert get(f"{base}/healthcheck")[0] == 200
            # The credential is in no command line (`ps` shows them to every user).
            cmdline = Path(f"/proc/{flower.pid}/cmdline").read_bytes()
            assert PASSWORD.encode() not in cmdline and b"basic" not in cmdline
            assert get(f"{base}/api/workers", "tester:wrong-password")[0] == 401
            assert get(f"{base}/", auth)[0] == 200
            chromium = shutil.which("chromium")
            if chromium:
                shot = tmp_path / "flower.png"
                subprocess.run(
                    [
                        chromium,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        f"--user-data-dir={tmp_path / 'chrome'}",
                        f"--screenshot={shot}",
                        "--window-size=1280,800",
                        f"http://{auth}@127.0.0.1:{port}/flower/",
                    ],
                    capture_output=True,
                    timeout=90,
                    check=False,
                )
                assert shot.exists()
                assert shot.stat().st_size > 10_000
                if os.environ.get("SYNCD_SAVE_SCREENSHOT"):
                    shutil.copy(shot, REPO / "docs" / "img" / "flower.png")
        finally:
            flower.send_signal(signal.SIGTERM)
            stop(flower)
            log.close()

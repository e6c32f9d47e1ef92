"""Start real `syncd serve` processes for a test, and talk to their listener."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.acceptance.gitremote import free_port
from tests.celery_worker import wait_for

SYNCD = str(Path(sys.executable).with_name("syncd"))


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return request("GET", self.base + path)

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        return request("POST", self.base + path, body, headers)

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200, body
        return body

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def request(
    method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def start_serve(
    env: Mapping[str, str],
    tmp_path: Path,
    repo: str,
    args: Sequence[str] = (),
    *,
    name: str = "serve",
    state: str | None = None,
) -> Serve:
    port = free_port()
    log_path = tmp_path / f"{name}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                SYNCD,
                "serve",
                "--repo",
                repo,
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(tmp_path / (state or f"{name}-state")),
                *args,
            ],
            env=dict(env),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    serve = Serve(process, port, log_path)

    def up() -> bool:
        assert process.poll() is None, serve.log()
        try:
            return serve.get("/healthz")[0] == 200
        except OSError:
            return False

    wait_for(up, 60, interval=0.05, what="syncd serve to listen")
    return serve


@contextmanager
def serving(
    env: Mapping[str, str], tmp_path: Path, repo: str, args: Sequence[str] = (), **kw: Any
) -> Iterator[Serve]:
    serve = start_serve(env, tmp_path, repo, args, **kw)
    try:
        yield serve
    finally:
        serve.stop()


def once(
    env: Mapping[str, str], tmp_path: Path, repo: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SYNCD,
            "serve",
            "--repo",
            repo,
            "--once",
            "--state-dir",
            str(tmp_path / "once-state"),
            *args,
        ],
        env=dict(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

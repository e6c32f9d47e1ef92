"""A real git remote for tests: a bare repository served by `git daemon` on a free loopback
port (stopped by PID), and a working clone that commits and pushes to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Lovelace",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Lovelace",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


class Remote:
    """`base/remote.git` served at git://127.0.0.1:PORT/remote.git."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.bare = base / "remote.git"
        git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        self.port = free_port()
        self.url = f"git://127.0.0.1:{self.port}/remote.git"
        self.daemon: subprocess.Popen[bytes] | None = None
        self.work = base / "work"
        git(base, "clone", "--quiet", str(self.bare), str(self.work))
        git(self.work, "checkout", "--quiet", "-B", "main")

    def start(self) -> None:
        self.daemon = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.base}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert time.monotonic() < deadline, "git daemon did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            os.kill(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait(10)
        self.daemon = None

    def commit(self, files: Mapping[str, str | None], message: str, *, push: bool = True) -> str:
        """Write (or, for None, delete) files in the clone, commit, push; the new SHA."""
        for rel, content in files.items():
            path = self.work / rel
            if content is None:
                if path.is_dir():
                    git(self.work, "rm", "-r", "--quiet", rel)
                elif path.exists():
                    git(self.work, "rm", "--quiet", rel)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git(self.work, "add", rel)
        git(self.work, "commit", "--quiet", "--allow-empty", "-m", message)
        if push:
            self.push()
        return self.head()

    def push(self, *, force: bool = False) -> None:
        git(self.work, "push", "--quiet", *(["--force"] if force else []), "origin", "main")

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")


@contextmanager
def served_remote(base: Path) -> Iterator[Remote]:
    remote = Remote(base)
    remote.start()
    try:
        yield remote
    finally:
        remote.stop()


def schedules(*names: str, every: str = "1h", task: str = "celeryapp.tasks.echo") -> str:
    body = "".join(f"  - name: {n}\n    task: {task}\n    every: {every}\n" for n in names)
    return "version: 1\nschedules:\n" + (body or "  []\n")

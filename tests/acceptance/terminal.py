"""Run the installed `syncd` as a person would: under a pseudo-terminal (stdlib pty), in a
directory that is not the checkout, with a clean environment."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SYNCD = str(Path(sys.executable).with_name("syncd"))
ESCAPE = "\x1b["
# What a caller's shell may have set that must not reach these runs.
_DROPPED = ("SYNCD_REDIS_URL", "GITHUB_STEP_SUMMARY", "NO_COLOR", "FORCE_COLOR", "CLICOLOR")


def clean_env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.pop("SYNCD_DATABASE_URL", None)
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40", **extra)
    env.setdefault("SYNCD_DATABASE_URL", f"sqlite:///{cwd / 'db.sqlite'}")
    return env


@dataclass
class Screen:
    returncode: int
    output: str  # stdout and stderr as the terminal showed them, interleaved


def on_tty(cwd: Path, *args: str, env: dict[str, str], timeout: float = 120) -> Screen:
    """`syncd ARGS` with stdin, stdout and stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [SYNCD, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Screen(returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"))


def piped(
    cwd: Path, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNCD, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )

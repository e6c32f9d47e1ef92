"""The package as users get it: the wheel built from this checkout (sdist first, then the
wheel from the sdist, as `python -m build` does), installed into a fresh venv outside the
repository. Built once per test session; tests run its programs from scratch directories.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    sdist: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def program(self, name: str) -> str:
        return str(self.bin / name)

    def env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """`base` (default: this environment) with the venv first on PATH and nothing that
        could lead its Python back to the checkout."""
        env = {
            k: v
            for k, v in (os.environ if base is None else base).items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env.update(extra)
        return env


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
    )
    assert done.returncode == 0, (args, done.stdout[-4000:], done.stderr[-4000:])


def build_and_install(workdir: Path) -> Installed:
    dist = workdir / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], workdir)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], workdir)
    venv = workdir / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], workdir)
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], workdir)
    return Installed(venv, wheel, sdist)

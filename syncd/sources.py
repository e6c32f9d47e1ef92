"""Finding and reading schedule files: the filesystem half of loading (syncd.loader parses).

A directory means every `*.yaml`/`*.yml` below it, hidden parts skipped; nothing outside
the directory is followed, and only regular files are read, each at most MAX_FILE_BYTES.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import Diagnostic

MAX_FILE_BYTES = 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    path: str
    data: bytes
    digest: str


def is_schedule_file(relative: str) -> bool:
    """The one rule for which files below a schedules directory are read, whether the tree
    is on disk (`discover`) or at a git ref (`syncd diff --base`): a `*.yaml`/`*.yml` name,
    and no hidden component (editor drafts, `.git`, `.github`)."""
    parts = Path(relative).parts
    return (
        bool(parts)
        and parts[-1].endswith(YAML_SUFFIXES)
        and not any(part.startswith(".") for part in parts)
    )


def _not_regular(path: str) -> Diagnostic:
    return Diagnostic(
        path,
        1,
        1,
        "file.not-regular",
        f"{path} is not a regular file (a pipe, socket or device); schedule files must be "
        "regular files",
    )


def discover(paths: Sequence[str]) -> tuple[list[str], list[Diagnostic]]:
    """Expand directories to the YAML files below them (sorted); report missing paths.

    A symlink below a directory that resolves outside that directory is refused: the
    schedules directory is never escaped. So is anything that is not a regular file (a FIFO
    named `x.yaml` would block the first read forever).
    """
    found: list[str] = []
    diagnostics: list[Diagnostic] = []
    for given in paths:
        if os.path.isdir(given):
            root = Path(given).resolve()
            for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not is_schedule_file(name):
                        continue
                    full = os.path.join(dirpath, name)
                    real = Path(full).resolve()
                    if not real.is_relative_to(root):
                        diagnostics.append(
                            Diagnostic(
                                full,
                                1,
                                1,
                                "path.outside",
                                f"{full} is a link to {real}, outside {given}; "
                                "schedule files must live inside the schedules directory",
                            )
                        )
                        continue
                    if not os.path.isfile(full):
                        diagnostics.append(_not_regular(full))
                        continue
                    found.append(full)
        elif os.path.isfile(given):
            found.append(given)
        elif os.path.exists(given):
            diagnostics.append(_not_regular(given))
        else:
            diagnostics.append(
                Diagnostic(given, 1, 1, "path.not-found", f"{given}: no such file or directory")
            )
    return found, diagnostics


def _read_regular(path: str) -> bytes | Diagnostic:
    """The file's bytes, or why not. Opened non-blocking and checked on the open descriptor,
    so a file swapped for a FIFO after `discover` looked at it cannot hang the read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return _not_regular(path)
        if info.st_size > MAX_FILE_BYTES:
            return Diagnostic(
                path,
                1,
                1,
                "file.too-large",
                f"{path} is {info.st_size} bytes; the limit is {MAX_FILE_BYTES} bytes "
                "(split it into several files)",
            )
        return fh.read(MAX_FILE_BYTES + 1)


def read_sources(paths: Sequence[str]) -> tuple[list[SourceFile], list[Diagnostic]]:
    files, diagnostics = discover(paths)
    sources: list[SourceFile] = []
    for path in files:
        try:
            data = _read_regular(path)
        except OSError as exc:
            diagnostics.append(Diagnostic(path, 1, 1, "file.unreadable", f"{path}: {exc.strerror}"))
            continue
        if isinstance(data, Diagnostic):
            diagnostics.append(data)
            continue
        sources.append(SourceFile(path, data, hashlib.sha256(data).hexdigest()))
    return sources, diagnostics

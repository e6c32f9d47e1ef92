"""`syncd diff --base GITREF`: the plan between the schedules at a git ref and the working
tree, with no database — what a pull request will change, for its review comment.

Files at the ref are read with `git ls-tree` and `git show` (no checkout), so it works in
a CI checkout where only the base ref was fetched. The base side plays the table: each of
its schedules is a managed row as an apply of that commit would have written it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Sequence

from syncd.errors import Diagnostic, InvalidSchedules, SyncdError
from syncd.loader import DEFAULT_SIZE_LIMITS, SizeLimits
from syncd.plan import Plan, Row, make_plan
from syncd.scopes import FileScope
from syncd.scopes import resolve as resolve_scope
from syncd.sources import SourceFile, is_schedule_file, read_sources
from syncd.spec import Schedule, row_hash, row_values
from syncd.validate import check_across, context_hash, validate_file


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise SyncdError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        raise SyncdError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _git_bytes(*args: str) -> bytes:
    done = subprocess.run(["git", *args], capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise SyncdError(f"git {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout


def _listed(ref: str, paths: Sequence[str]) -> list[str]:
    """The files under `paths` at `ref` that `discover` would read from the working tree:
    the same rule below each given directory; a file named on its own is read whatever its
    name."""
    out = []
    for given in paths:
        listed = _git("ls-tree", "-r", "-z", "--name-only", ref, "--", given).split("\0")
        for path in filter(None, listed):
            named = os.path.normpath(path) == os.path.normpath(given)
            if named or is_schedule_file(os.path.relpath(path, given)):
                out.append(path)
    return out


def sources_at(ref: str, paths: Sequence[str]) -> list[SourceFile]:
    """The schedule files under `paths` as they are at `ref` (paths relative to the cwd)."""
    try:
        _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except SyncdError:
        raise SyncdError(
            f"unknown git ref {ref!r}; in a CI checkout fetch it first "
            f"(git fetch origin {ref.removeprefix('origin/')}) or use fetch-depth: 0"
        ) from None
    out = []
    for path in sorted(set(_listed(ref, paths))):
        data = _git_bytes("show", f"{ref}:./{path}")
        out.append(SourceFile(path, data, hashlib.sha256(data).hexdigest()))
    return out


def _validate(
    sources: Sequence[SourceFile], default_timezone: str, limits: SizeLimits, scope: str | None
) -> tuple[list[Schedule], list[Diagnostic], str | None]:
    context = context_hash(None, default_timezone, limits, scope)
    results = [
        validate_file(s, context=context, default_timezone=default_timezone, limits=limits)
        for s in sources
    ]
    diagnostics = [d for r in results for d in r.diagnostics] + check_across(results)
    run_scope, mismatched = resolve_scope(
        [r.scope or FileScope(r.path, None) for r in results], scope
    )
    return [s for r in results for s in r.schedules], diagnostics + mismatched, run_scope


def diff(
    base: str,
    paths: Sequence[str],
    *,
    default_timezone: str,
    limits: SizeLimits = DEFAULT_SIZE_LIMITS,
    scope: str | None = None,
) -> tuple[Plan, list[str]]:
    """The plan base -> working tree, and warnings about an invalid base. Both sides are
    in their files' scope (or `scope`, --scope); a base in another scope owns its names, as
    the table would, so the plan says what an apply would refuse."""
    head_sources, read_errors = read_sources(paths)
    head, head_errors, head_scope = _validate(head_sources, default_timezone, limits, scope)
    if read_errors or head_errors:
        raise InvalidSchedules(read_errors + head_errors)
    before, base_errors, base_scope = _validate(
        sources_at(base, paths), default_timezone, limits, scope
    )
    warnings = [f"base {base}: {d}" for d in base_errors]
    rows = []
    for i, schedule in enumerate(before):
        values = row_values(schedule)
        rows.append(
            Row(
                i + 1,
                values,
                True,
                str(schedule.source),
                schedule.source_hash,
                row_hash(values),
                base_scope,
            )
        )
    result = make_plan(head, rows, scope=head_scope)
    if result.errors:
        raise InvalidSchedules(list(result.errors))
    return result, warnings

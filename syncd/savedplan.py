"""A plan saved by `syncd plan --out FILE`, read back for `syncd apply FILE`: the file
format is written, read and compared with a fresh plan here, and nowhere else.

The file is the json plan (`render.plan_dict`: revision, changes, summary) with the
`paths` and `options` (prune, adopt) it was made with.

The file may come from anywhere (an artifact of another job, a hand edit), so everything
about it is checked before it is used: a regular file under a size cap, strict JSON (no
NaN), and the shape `plan --out` writes. Anything else is a usage error (exit 64) naming
the file and the problem, never a Python exception or a comparison of mismatched types.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syncd.errors import StalePlan, UsageError
from syncd.plan import Plan
from syncd.render import plan_dict
from syncd.scopes import SCOPE_RE, describe

MAX_PLAN_BYTES = 64 * 1024 * 1024  # a 10 000-schedule plan is about 5 MB
# `paused` is read by people only: pauses are runtime state that an apply leaves alone.
# `scope` is the plan's (render.plan_dict, only when set); options.scope the --scope given.
KEYS = frozenset({"revision", "changes", "summary", "paths", "options", "paused", "scope"})
OPTION_KEYS = frozenset({"prune", "adopt", "scope"})
ACTIONS = frozenset({"create", "update", "delete"})


@dataclass(frozen=True)
class SavedPlan:
    """A checked saved plan: what `syncd apply FILE` re-plans with, and what it must find."""

    paths: tuple[str, ...]
    prune: bool
    adopt: bool
    data: dict[str, Any]
    scope: str | None = None  # the --scope the plan was made with

    def check_current(self, fresh: Plan, revision: int | None) -> None:
        """StalePlan unless the database is at the saved revision and the fresh plan (made
        under the apply lock) has exactly the saved changes."""
        saved_revision = self.data.get("revision")
        if saved_revision != revision:
            raise StalePlan(
                f"the plan was made against revision {saved_revision}, the "
                f"database is at revision {revision}; make a new plan and review it"
            )
        if fresh.scope != self.data.get("scope"):
            raise StalePlan(
                f"the plan was made for {describe(self.data.get('scope'))}, the files are "
                f"now in {describe(fresh.scope)}; make a new plan and review it"
            )
        if plan_dict(fresh, revision)["changes"] != self.data.get("changes"):
            raise StalePlan(
                "the schedules or the database changed since the plan was made; "
                "make a new plan and review it"
            )


def is_saved_plan(paths: Sequence[str]) -> bool:
    """`syncd apply FILE.json` applies a saved plan; any other argument is schedule paths."""
    return len(paths) == 1 and paths[0].endswith(".json")


def write(
    path: str,
    plan: Plan,
    revision: int | None,
    paths: Sequence[str],
    *,
    prune: bool,
    adopt: bool,
    scope: str | None = None,
) -> None:
    """Save `plan` (made against `revision`) for `syncd apply FILE`; UsageError if unwritable."""
    saved = plan_dict(plan, revision)
    saved["paths"] = list(paths)
    saved["options"] = {"prune": prune, "adopt": adopt, **({"scope": scope} if scope else {})}
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(saved, fh, indent=2, ensure_ascii=False)
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write the plan ({exc.strerror})") from None


def load(path: str) -> SavedPlan:
    """The saved plan at `path`, checked, with the options it was made with."""
    data = read(path)
    options = data.get("options", {})
    return SavedPlan(
        paths=tuple(data["paths"]),
        prune=options.get("prune", True),
        adopt=options.get("adopt", False),
        data=data,
        scope=options.get("scope"),
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read(path: str) -> dict[str, Any]:
    """The saved plan at `path`, checked; UsageError says what is wrong with it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"{path}: not a regular file, so not a saved plan")
            if info.st_size > MAX_PLAN_BYTES:
                raise UsageError(
                    f"{path}: {info.st_size} bytes, more than a saved plan may be "
                    f"({MAX_PLAN_BYTES} bytes)"
                )
            raw = fh.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the saved plan ({exc.strerror})") from None
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise UsageError(f"{path}: not a saved plan (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UsageError(f"{path}: not a saved plan (not JSON: {exc})") from None
    problem = shape_problem(data)
    if problem:
        raise UsageError(f"{path}: not a plan saved by `syncd plan --out`: {problem}")
    return data  # type: ignore[no-any-return]


def shape_problem(data: Any) -> str | None:
    """What is wrong with the shape of a decoded saved plan (None: nothing). Pure."""
    if not isinstance(data, dict):
        return f"the top level is a {type(data).__name__}, not an object"
    unknown = sorted(set(data) - KEYS)
    if unknown:
        return f"unknown keys {unknown}"
    for key in ("revision", "changes", "paths"):
        if key not in data:
            return f"{key!r} is missing"
    for check in (_revision_problem, _paths_problem, _options_problem, _changes_problem):
        problem = check(data)
        if problem:
            return problem
    if "summary" in data and not isinstance(data["summary"], dict):
        return "'summary' must be an object"
    return None


def _revision_problem(data: dict[str, Any]) -> str | None:
    revision = data["revision"]
    if revision is not None and (type(revision) is not int or revision < 1):
        return f"'revision' must be a revision number or null, not {revision!r:.40}"
    return None


def _paths_problem(data: dict[str, Any]) -> str | None:
    paths = data["paths"]
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        return "'paths' must be a non-empty list of paths"
    return None


def _options_problem(data: dict[str, Any]) -> str | None:
    options = data.get("options", {})
    if not isinstance(options, dict):
        return "'options' must be an object"
    for key, value in options.items():
        if key == "scope":
            if not isinstance(value, str) or not SCOPE_RE.match(value):
                return f"'options'.scope must be a scope name (got {value!r:.40})"
            continue
        if key not in OPTION_KEYS or not isinstance(value, bool):
            return (
                "'options' may hold only prune and adopt, as true or false, and scope "
                f"(got {key!r:.40})"
            )
    scope = data.get("scope")
    if scope is not None and (not isinstance(scope, str) or not SCOPE_RE.match(scope)):
        return f"'scope' must be a scope name (got {scope!r:.40})"
    return None


def _changes_problem(data: dict[str, Any]) -> str | None:
    changes = data["changes"]
    if not isinstance(changes, list):
        return "'changes' must be a list"
    for i, change in enumerate(changes):
        if (
            not isinstance(change, dict)
            or change.get("action") not in ACTIONS
            or not isinstance(change.get("name"), str)
            or not isinstance(change.get("fields", {}), dict)
        ):
            return f"'changes'[{i}] is not a change (an object with action, name and fields)"
    return None

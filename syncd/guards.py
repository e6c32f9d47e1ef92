"""Guards (DESIGN §8): plans that are refused however valid their files are.

A wrong path in CI (`syncd apply schedules/` run from the wrong directory, an empty
checkout) looks exactly like "delete everything"; Argo CD refuses an empty desired state
unless told. The decision is a pure function of the plan and the options; the CLI maps a
refusal to exit 5 (`EXIT_REFUSED`), and apply makes it under the lock on the fresh plan, so
a refused apply writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from syncd.errors import plural
from syncd.plan import Plan
from syncd.spec import format_time
from syncd.windows import DenyWindow, denied_until


@dataclass(frozen=True)
class Guards:
    allow_empty: bool = False  # allow a plan that deletes every managed schedule
    max_delete: int | None = None  # refuse more deletes than this
    deny_windows: tuple[DenyWindow, ...] = field(default_factory=tuple)
    force_window: bool = False  # `syncd apply --force-window`: a person applies anyway


@dataclass(frozen=True)
class Refusal:
    guard: str  # the option that lifts it: "allow-empty", "max-delete" or "force-window"
    message: str


def managed_before(plan: Plan) -> int:
    """Managed rows of the plan's scope it was made against: deleted, updated in place, or
    unchanged (an adopted row was not managed; an unmanaged row, or another scope's, is
    never in a plan)."""
    kept = sum(1 for c in plan.changes if c.action == "update" and not c.adopt)
    return plan.summary()["delete"] + kept + plan.unchanged


def _of(plan: Plan) -> str:
    return f" of scope {plan.scope!r}" if plan.scope is not None else ""


def check(plan: Plan, guards: Guards, now: datetime | None = None) -> tuple[Refusal, ...]:
    """Why this plan must not be applied (empty: it may). `now` is needed only for deny
    windows; a plan that changes nothing is never refused by one."""
    deletes = plan.summary()["delete"]
    out = []
    if guards.deny_windows and not guards.force_window and plan.changes and now is not None:
        open_window = denied_until(guards.deny_windows, now)
        if open_window is not None:
            window, end = open_window
            out.append(
                Refusal(
                    "force-window",
                    f"inside the deny window {window.describe()} until {format_time(end)}; "
                    "automatic syncs wait for it to close (a person may apply now with "
                    "syncd apply --force-window)",
                )
            )
    if deletes and deletes == managed_before(plan) and not guards.allow_empty:
        out.append(
            Refusal(
                "allow-empty",
                f"the plan deletes every managed schedule{_of(plan)} ({deletes}); check the "
                "paths given, or pass --allow-empty if that is meant",
            )
        )
    if guards.max_delete is not None and deletes > guards.max_delete:
        out.append(
            Refusal(
                "max-delete",
                f"the plan deletes {plural(deletes, 'schedule')}, more than --max-delete "
                f"{guards.max_delete}; check the paths given, or raise --max-delete",
            )
        )
    return tuple(out)

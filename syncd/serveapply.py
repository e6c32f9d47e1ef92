"""One attempt of `syncd serve` at a commit: its tree through the apply pipeline, the
controller row written with the rows it makes live (one transaction), then the outcome
logged, counted and notified.

A heal re-applies the live commit (drift reverted); an apply tries the remote head. A
commit that cannot be read, is invalid, refused or fails leaves the live commit live.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from celeryapp.redact import redact_url
from syncd import controller as decisions
from syncd.errors import (
    EXIT_CONFLICT,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_SERVICE,
    InvalidSchedules,
    Refused,
    SyncdError,
)
from syncd.gitsource import FetchError
from syncd.plan import Plan
from syncd.store import Connection, DatabaseError
from syncd.sync import CommitInfo, apply

if TYPE_CHECKING:
    from syncd.gitsource import Commit
    from syncd.serve import Controller

log = logging.getLogger("syncd.serve")

MAX_ERRORS_KEPT = 200  # positioned errors kept in the row and shown by /status


@dataclass
class Outcome:
    """What one sync did (for --once, the log and tests)."""

    action: str  # apply | heal | none | busy | fetch-error
    result: str | None = None  # applied | invalid | refused | denied | error
    commit: str | None = None
    revision: int | None = None
    errors: list[str] = field(default_factory=list)
    summary: dict[str, int] | None = None

    @property
    def exit_code(self) -> int:
        if self.action == "busy":
            return EXIT_CONFLICT  # another replica is syncing this source
        if self.action == "fetch-error" or self.result == decisions.ERROR:
            return EXIT_SERVICE
        if self.result == decisions.INVALID:
            return EXIT_INVALID
        if self.result in (decisions.REFUSED, decisions.DENIED):
            return EXIT_REFUSED
        return EXIT_OK


def _not_applied(outcome: Outcome, exc: SyncdError | DatabaseError | OSError) -> None:
    """Why a commit did not go live, into its outcome: invalid, denied, refused or error."""
    if isinstance(exc, InvalidSchedules):
        outcome.result, outcome.errors = decisions.INVALID, [str(d) for d in exc.diagnostics]
    elif isinstance(exc, Refused):
        only_window = all(r.guard == "force-window" for r in exc.refusals)
        outcome.result = decisions.DENIED if only_window else decisions.REFUSED
        outcome.errors = [r.message for r in exc.refusals]
        outcome.summary = exc.plan.summary()
    else:
        reason = (
            exc.message
            if isinstance(exc, SyncdError)
            else str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        )
        outcome.result, outcome.errors = decisions.ERROR, [redact_url(reason)]


class Attempt:
    """One commit, one action (`apply` or `heal`), against the controller row `row`."""

    def __init__(self, ctl: Controller, action: str, sha: str, row: dict[str, Any]) -> None:
        self.ctl = ctl
        self.action = action
        self.sha = sha
        self.row = row

    def run(self, drift: tuple[str, ...]) -> Outcome:
        ctl, sha = self.ctl, self.sha
        try:
            ctl.source.ensure(sha)
            commit = ctl.source.commit(sha)
        except FetchError as exc:
            log.error("cannot read commit %s: %s", sha[:12], exc.message)
            ctl._write_for(
                self.action,
                {
                    "attempt_commit": sha,
                    "attempt_time": ctl.clock(),
                    "attempt_result": decisions.ERROR,
                    "attempt_errors": [exc.message],
                    "counters": ctl._count(self.row, "errors"),
                },
            )
            return Outcome(self.action, decisions.ERROR, sha, errors=[exc.message])
        ctl._write_for(
            self.action,
            {
                "attempt_commit": sha,
                "attempt_time": ctl.clock(),
                "attempt_result": decisions.APPLYING,
                "attempt_errors": None,
            },
        )
        previous = (self.row.get("attempt_commit"), self.row.get("attempt_result"))
        outcome = self._pipeline(CommitInfo(sha, commit.author, commit.subject))
        if outcome.result == decisions.APPLIED:
            self._succeeded(outcome, commit, drift)
        else:
            self._failed(outcome, commit, previous)
        return outcome

    def _record_live(self, conn: Connection, plan: Plan, revision: int | None) -> None:
        """The controller row, in the apply's own transaction: the commit made live and
        the rows made live are committed together or not at all."""
        ctl, row = self.ctl, self.row
        counters = ctl._count(row, "applies", *(["heals"] if self.action == "heal" else []))
        ctl._write_for(
            self.action,
            {
                "live_commit": self.sha,
                "live_revision": revision if revision is not None else row.get("live_revision"),
                "live_time": ctl.clock(),
                "attempt_result": decisions.APPLIED,
                "attempt_errors": [],
                "attempt_summary": plan.summary(),
                "counters": counters,
            },
            conn,
        )

    def _pipeline(self, info: CommitInfo) -> Outcome:
        ctl = self.ctl
        outcome = Outcome(self.action, commit=self.sha)
        try:
            with ctl.source.tree(self.sha, ctl.config.path) as root:
                plan, revision = apply(
                    ctl.config.database_url,
                    replace(ctl.config.options, root=str(root)),
                    lock_timeout=ctl.config.lock_timeout,
                    commit_info=info,
                    inside=self._record_live,
                )
        except (SyncdError, DatabaseError, OSError) as exc:
            _not_applied(outcome, exc)
        else:
            outcome.result, outcome.revision = decisions.APPLIED, revision
            outcome.summary = plan.summary()
            ctl.live_scope = plan.scope
        return outcome

    def _succeeded(self, outcome: Outcome, commit: Commit, drift: tuple[str, ...]) -> None:
        ctl = self.ctl
        ctl.metrics.applies.labels(decisions.APPLIED).inc()
        if self.action == "heal":
            ctl.metrics.heals.inc()
        ctl.announce.live(self.action, commit, drift, outcome.revision, outcome.summary or {})

    def _failed(
        self, outcome: Outcome, commit: Commit, previous: tuple[str | None, str | None]
    ) -> None:
        ctl, sha, row = self.ctl, self.sha, self.row
        ctl.metrics.applies.labels(outcome.result or decisions.ERROR).inc()
        counter = {
            decisions.INVALID: "invalid",
            decisions.DENIED: "denied",
            decisions.REFUSED: "refusals",
        }.get(outcome.result or "", "errors")
        ctl._write_for(
            self.action,
            {
                "attempt_result": outcome.result,
                "attempt_errors": outcome.errors[:MAX_ERRORS_KEPT],
                "attempt_summary": outcome.summary,
                "counters": ctl._count(row, counter),
            },
        )
        ctl.announce.not_live(
            commit,
            outcome.result or decisions.ERROR,
            outcome.errors,
            row.get("live_commit"),
            notify=decisions.transition(previous, (sha, outcome.result)),
        )

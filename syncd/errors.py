"""Exit codes and the exception hierarchy; the CLI maps each class to one code, here.

Every exception carries a message that says what happened and what to do next. The class
docstring is the default message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Exit codes (listed in `syncd --help`).
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_CHANGES_PENDING = 2
EXIT_SERVICE = 3
EXIT_CONFLICT = 4
EXIT_REFUSED = 5
EXIT_UNHEALTHY = 6  # syncd status: no beat leads, its heartbeat is stale, or drift exists
EXIT_USAGE = 64

EXIT_CODES_HELP = (
    "Exit codes: 0 success (plan --detailed-exitcode: no changes); 1 invalid schedules; "
    "2 changes pending (plan --detailed-exitcode only); 3 a service could not be reached or "
    "another runtime failure; 4 conflict (another apply holds the lock, or the database moved "
    "since the plan); 5 refused by a guard (the plan deletes every managed schedule without "
    "--allow-empty, or more than --max-delete); 6 unhealthy (syncd status: no beat leads, "
    "its heartbeat is stale, or drift exists); 64 usage error."
)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 schedule`, `2 schedules`: every count in a message goes through here."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def closest(value: str, candidates: Iterable[str], *, n: int = 1) -> list[str]:
    """The candidates `value` was most likely meant to be: those equal but for case first
    (`utc`, `europe/berlin`: difflib compares case-sensitively), then difflib's close ones."""
    pool = sorted(set(candidates))
    same = [c for c in pool if c.lower() == value.lower() and c != value]
    near = difflib.get_close_matches(value, pool, n=n, cutoff=0.6)
    # Closest first; equally close ones in alphabetical order (difflib gives them reversed).
    near.sort(key=lambda c: (-difflib.SequenceMatcher(None, value, c).ratio(), c))
    return list(dict.fromkeys(same + near))[:n]


def did_you_mean(value: str, candidates: Iterable[str], *, n: int = 1, lead: str = "; ") -> str:
    """`; did you mean 'x'?` (or `'x' or 'y'`) for a message's end; "" when nothing is close.
    Every did-you-mean of syncd comes from here."""
    close = closest(value, candidates, n=n)
    if not close:
        return ""
    return f"{lead}did you mean {' or '.join(repr(c) for c in close)}?"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One positioned problem in a schedules file. Lines and columns are 1-based."""

    path: str
    line: int
    column: int
    code: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}:{self.column}: {self.severity}[{self.code}]: {self.message}"
        )


class SyncdError(Exception):
    """syncd failed."""

    exit_code = EXIT_SERVICE

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class InvalidSchedules(SyncdError):
    """The schedules are invalid; nothing was changed. Fix the errors listed above."""

    exit_code = EXIT_INVALID

    def __init__(self, diagnostics: list[Diagnostic], message: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__(message)


class ServiceUnavailable(SyncdError):
    """A service (database, Redis, broker, workers) could not be reached."""

    exit_code = EXIT_SERVICE

    @classmethod
    def at(cls, doing: str, url: str, exc: BaseException) -> ServiceUnavailable:
        """`cannot DOING URL: Error: its first line`, the URL's secrets hidden."""
        from celeryapp.redact import redact_url

        first = str(exc).splitlines()[0] if str(exc) else ""
        return cls(
            f"cannot {doing} {redact_url(url)}: {exc.__class__.__name__}: {redact_url(first)}"
        )


class NoDatabase(ServiceUnavailable):
    """There is no database at that URL; run `syncd apply` or `syncd migrate` first."""

    exit_code = EXIT_SERVICE


class LockTimeout(SyncdError):
    """Another apply holds the lock; try again when it has finished, or raise --lock-timeout."""

    exit_code = EXIT_CONFLICT


class StalePlan(SyncdError):
    """The database moved since this plan was made; make a new plan and review it."""

    exit_code = EXIT_CONFLICT


class Refused(SyncdError):
    """A guard refused the plan; nothing was changed."""

    exit_code = EXIT_REFUSED

    def __init__(self, plan: Any, refusals: Sequence[Any]) -> None:
        # The plan (syncd.plan.Plan) and why (syncd.guards.Refusal), for every output format.
        self.plan = plan
        self.refusals = tuple(refusals)
        super().__init__("refused: " + "; ".join(r.message for r in self.refusals))


class NoWorkers(SyncdError):
    """No Celery worker answered the ping; start a worker (celery -A celeryapp.app worker)."""

    exit_code = EXIT_SERVICE


class ScheduleExpired(SyncdError):
    """The schedule has expired; it no longer runs. Change `expires` in its YAML first."""

    exit_code = EXIT_INVALID


class TaskFailed(SyncdError):
    """The triggered task ran and failed; see the worker's log for the traceback."""


class WaitTimeout(SyncdError):
    """The task was sent but did not finish in time; look it up later by its id."""


class UnknownSchedule(SyncdError):
    """No schedule has that name."""

    exit_code = EXIT_INVALID


class UnschedulableRow(SyncdError):
    """A table row the beat cannot schedule (it logs and skips it); fix or re-apply it."""

    exit_code = EXIT_INVALID


class UsageError(SyncdError):
    """The command line is not valid; see --help."""

    exit_code = EXIT_USAGE


class UnknownRevision(SyncdError):
    """No revision has that number; `syncd history` lists them."""

    exit_code = EXIT_USAGE


class HistoryGap(SyncdError):
    """The history cannot say what the schedules were at that revision; nothing was changed."""

    exit_code = EXIT_USAGE

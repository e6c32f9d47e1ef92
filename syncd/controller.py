"""The decisions of `syncd serve`, as pure functions of what is known (no I/O, no clock).

* `decide`: after a fetch, what to do — apply the remote head, revert drift by re-applying
  the live commit (self-heal), or nothing;
* `sync_state`: synced / out-of-sync / failed, and why;
* `Wakeup`: webhooks and the interval coalesce into one pending sync.

A commit found invalid is not tried again (its files cannot change); a refusal, a deny
window or a runtime error is tried again on the next interval, because the guard, the
window or the service may change. Notifications follow transitions, not attempts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

# The results of an attempt (the controller row's attempt_result).
APPLYING = "applying"
APPLIED = "applied"
INVALID = "invalid"
REFUSED = "refused"
DENIED = "denied"
ERROR = "error"
FAILED_RESULTS = frozenset({INVALID, REFUSED, ERROR})
FINAL_RESULTS = frozenset({INVALID})  # not retried for the same commit

SYNCED = "synced"
OUT_OF_SYNC = "out-of-sync"
FAILED = "failed"


@dataclass(frozen=True)
class Known:
    """What the controller row says, plus what the fetch and the table just showed."""

    head: str | None  # the remote head; None when never fetched
    live: str | None  # the commit live in the table
    attempt_commit: str | None = None
    attempt_result: str | None = None
    fetch_error: str | None = None
    drift: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    action: str  # "apply" | "heal" | "none"
    commit: str | None = None
    reason: str = ""


def decide(known: Known, *, self_heal: bool) -> Decision:
    if known.head is None:
        return Decision("none", reason="the remote has not been fetched")
    if known.head != known.live:
        if known.attempt_commit == known.head and known.attempt_result in FINAL_RESULTS:
            if known.drift and self_heal and known.live is not None:
                # The head is broken, but the live commit's rows still get healed.
                return Decision("heal", known.live, "drift: " + ", ".join(known.drift))
            return Decision("none", known.head, f"{known.head[:12]} is {known.attempt_result}")
        return Decision("apply", known.head, "the remote head is not live")
    if known.drift and self_heal and known.live is not None:
        return Decision("heal", known.live, "drift: " + ", ".join(known.drift))
    return Decision("none", known.head, "synced")


def sync_state(known: Known) -> tuple[str, str]:
    """(state, reason) for status, readiness and notifications."""
    if known.fetch_error:
        return FAILED, f"cannot fetch the remote: {known.fetch_error}"
    if known.head is None:
        return OUT_OF_SYNC, "the remote has not been fetched yet"
    if known.attempt_commit == known.head and known.attempt_result in FAILED_RESULTS:
        return FAILED, f"commit {known.head[:12]} was {known.attempt_result}"
    if known.head != known.live:
        if known.attempt_commit == known.head and known.attempt_result == DENIED:
            return OUT_OF_SYNC, f"commit {known.head[:12]} waits for the deny window to close"
        return OUT_OF_SYNC, f"commit {known.head[:12]} is not applied yet"
    if known.drift:
        return OUT_OF_SYNC, "drift: " + ", ".join(known.drift) + " edited in the database"
    return SYNCED, f"commit {known.head[:12]} is live"


def transition(previous: tuple[str | None, str | None], now: tuple[str | None, str | None]) -> bool:
    """Whether an attempt's (commit, result) is news: a notification goes out for a change
    of commit or of result, never for the same failure every interval."""
    return previous != now


def request_served(requested: datetime | None, fetch_started: datetime | None) -> bool:
    """Whether a sync request (a hook passed on by a busy replica) is already served: a
    fetch that started at or after it has been recorded."""
    return requested is None or (fetch_started is not None and requested <= fetch_started)


def run_again(requested: datetime | None, pass_started: datetime) -> bool:
    """Whether the replica holding the lock must sync once more: a request came in during
    the pass that just ended."""
    return requested is not None and requested >= pass_started


class Wakeup:
    """Pending-sync flag shared by the interval loop and the webhook handlers: any number
    of requests while a sync runs (a burst of hooks) make exactly one more sync."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """True when a sync was requested (and take the request); False on timeout."""
        fired = self._event.wait(timeout)
        self._event.clear()
        return fired

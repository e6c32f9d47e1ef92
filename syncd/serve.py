"""`syncd serve`: the GitOps controller (DESIGN §8).

One loop fetches the branch on the interval or when a webhook asks, and applies the tree
of exactly one commit through the same pipeline as `syncd apply` (validate -> plan ->
guards -> apply in one transaction), recording the commit in the revision and the
controller row in the same transaction. What to do is decided by `syncd.controller`
(pure); this module performs it.

Replicas: a sync runs under a per-source lock taken without waiting. A replica that finds
it held leaves a request mark in the controller row (for a webhook it received) and skips;
the holder runs once more when it sees a request newer than its fetch. Every replica
answers /status from the shared row, so all report the same state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import EllipsisType
from typing import Any

from celeryapp.redact import redact_url
from syncd import controller as decisions
from syncd import store
from syncd.announce import Announcer
from syncd.errors import (
    SyncdError,
)
from syncd.gitsource import FetchError, GitSource
from syncd.notify import Notifier
from syncd.serveapply import Attempt, Outcome
from syncd.spec import format_time
from syncd.status import describe
from syncd.store import Connection, DatabaseError
from syncd.sync import Options
from syncd.windows import denied_until

log = logging.getLogger("syncd.serve")

RETRY_SECONDS = 1.0  # how soon a replica checks that a hook it passed on was served


def utcnow() -> datetime:
    return datetime.now(UTC)


def source_key(repo: str, branch: str, path: str) -> str:
    """The controller row of one source; the repo as shown (credentials never hashed in)."""
    return hashlib.sha256(f"{repo}\0{branch}\0{path}".encode()).hexdigest()[:32]


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class ServeConfig:
    database_url: str
    branch: str
    path: str
    interval: float
    options: Options  # paths = (path,), root set per commit
    lock_timeout: float = 30.0
    self_heal: bool = False


class Controller:
    def __init__(
        self,
        config: ServeConfig,
        source: GitSource,
        *,
        notifier: Notifier | None = None,
        leader_fn: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.source = source
        self.notifier = notifier or Notifier(None)
        self.announce = Announcer(self.notifier, source.display_url)
        self.leader_fn = leader_fn
        self.clock = clock
        self.key = source_key(source.display_url, config.branch, config.path)
        self.replica = replica_id()
        self.wakeup = decisions.Wakeup()
        self.lock_file = lock_file_for(config.database_url, source.state_dir, self.key)
        self._drift_seen: tuple[str, ...] = ()
        # The scope of the last apply this process made (None: the default scope), so that
        # drift and self-heal look at that scope's rows only; `...`: none yet, every row.
        self.live_scope: str | EllipsisType | None = (
            config.options.scope if config.options.scope is not None else ...
        )
        self.retry_pending = False  # a hook came while another replica held the lock
        from syncd.metrics import ServeMetrics

        self.metrics = ServeMetrics()

    # --- the shared row ---------------------------------------------------------------

    def _row(self, conn: Connection) -> dict[str, Any]:
        rows = store.read_controller(conn, self.key)
        return rows[0] if rows else {}

    def _write(self, values: dict[str, Any], conn: Connection | None = None) -> None:
        values = {
            "repo": self.source.display_url,
            "branch": self.config.branch,
            "path": self.config.path,
            "updated_time": self.clock(),
            **values,
        }
        if conn is not None:
            store.write_controller(conn, self.key, values)
            return
        with store.connect(self.config.database_url) as own, own.begin():
            store.write_controller(own, self.key, values)

    def _write_for(
        self, action: str, values: dict[str, Any], conn: Connection | None = None
    ) -> None:
        """Write an apply's progress or outcome. A heal re-applies the live commit: it is
        not an attempt at the head, so the attempt fields stay as they are (otherwise the
        next pass forgets that the head is invalid and tries it again, and again)."""
        if action == "heal":
            values = {k: v for k, v in values.items() if not k.startswith("attempt_")}
        self._write(values, conn)

    def _count(self, row: dict[str, Any], *names: str) -> dict[str, int]:
        counters = dict(row.get("counters") or {})
        for name in names:
            counters[name] = counters.get(name, 0) + 1
        return counters

    def settings_view(self) -> dict[str, Any]:
        guards = self.config.options.guards
        return {
            "interval_seconds": self.config.interval,
            "self_heal": self.config.self_heal,
            "allow_empty": guards.allow_empty,
            "max_delete": guards.max_delete,
            "deny_windows": [w.describe() for w in guards.deny_windows],
        }

    # --- one sync ------------------------------------------------------------------------

    def request(self) -> None:
        """Ask for a sync (a webhook): this replica's loop wakes up at once."""
        self.wakeup.request()

    def sync(self, reason: str = "interval") -> Outcome:
        """One sync under the source's lock; runs again while requests arrive meanwhile."""
        store.migrate(self.config.database_url, self.config.lock_timeout)
        with store.controller_lock(self.config.database_url, self.key, self.lock_file) as held:
            if not held:
                if reason == "webhook":
                    self._write({"requested_time": self.clock()})
                    log.info("another replica is syncing; it will sync again for this hook")
                if reason in ("webhook", "retry"):
                    # Until a fetch that started after the request is seen: the holder may
                    # have checked for requests just before this one was written.
                    self.retry_pending = True
                else:
                    log.debug("another replica is syncing %s; skipped", self.source.display_url)
                return Outcome("busy")
            if reason == "retry":
                self.retry_pending = False
                with store.connect(self.config.database_url) as conn:
                    row = self._row(conn)
                if decisions.request_served(row.get("requested_time"), row.get("fetched_time")):
                    return Outcome("none")  # served by the replica that held the lock
                reason = "webhook"
            outcome = Outcome("none")
            for _ in range(10):
                started = self.clock()
                outcome = self._sync_held(reason)
                with store.connect(self.config.database_url) as conn:
                    requested = self._row(conn).get("requested_time")
                if not decisions.run_again(requested, started):
                    break
                reason = "webhook"
            return outcome

    def _sync_held(self, reason: str) -> Outcome:
        row: dict[str, Any]
        with store.connect(self.config.database_url) as conn:
            row = self._row(conn)
            conn.rollback()
        # fetched_time is when the fetch *started*: a request older than it is served.
        fetch_started = self.clock()
        try:
            head = self.source.fetch()
        except FetchError as exc:
            return self._fetch_failed(row, exc.message, fetch_started)
        if row.get("fetch_error"):
            self.announce.fetch_recovered(head)
        with store.connect(self.config.database_url) as conn:
            drift = tuple(store.drifted_names(conn, self.live_scope))
            conn.rollback()
        self._write(
            {
                "remote_head": head,
                "fetched_time": fetch_started,
                "fetch_error": None,
                "holder": self.replica,
                "settings": self.settings_view(),
            }
        )
        known = decisions.Known(
            head=head,
            live=row.get("live_commit"),
            attempt_commit=row.get("attempt_commit"),
            attempt_result=row.get("attempt_result"),
            drift=drift,
        )
        decision = decisions.decide(known, self_heal=self.config.self_heal)
        if decision.action == "none":
            self._report_drift(drift)
            return Outcome("none", commit=head)
        assert decision.commit is not None
        if decision.action == "heal":
            log.warning("self-heal: reverting drift in %s", ", ".join(drift))
        return self._apply(decision.action, decision.commit, row, drift)

    def _fetch_failed(self, row: dict[str, Any], message: str, started: datetime) -> Outcome:
        """A failed fetch: recorded; logged and notified when fetching worked before."""
        self.metrics.fetch_errors.inc()
        if row.get("fetch_error") is None:
            self.announce.fetch_failed(message, row.get("live_commit"))
        self._write(
            {
                "fetch_error": message,
                "fetched_time": started,
                "holder": self.replica,
                "settings": self.settings_view(),
            }
        )
        return Outcome("fetch-error", errors=[message])

    def _report_drift(self, drift: tuple[str, ...]) -> None:
        """Drift without self-heal: logged and notified once per set of drifted names."""
        if drift == self._drift_seen:
            return
        self._drift_seen = drift
        if drift:
            self.announce.drift_found(drift)

    def _apply(self, action: str, sha: str, row: dict[str, Any], drift: tuple[str, ...]) -> Outcome:
        """One commit's tree through the pipeline, its outcome recorded and told
        (`serveapply`)."""
        return Attempt(self, action, sha, row).run(drift)

    def run(self, stop: threading.Event) -> None:
        """Sync now, then on every interval or webhook, until `stop` is set."""
        reason = "start"
        while not stop.is_set():
            try:
                outcome = self.sync(reason)
                if outcome.action == "fetch-error":
                    log.debug("fetch error: %s", outcome.errors)
            except Exception:
                log.exception("sync failed")
            if stop.is_set():
                break
            timeout = RETRY_SECONDS if self.retry_pending else self.config.interval
            if self.wakeup.wait(timeout):
                reason = "webhook"
            else:
                reason = "retry" if self.retry_pending else "interval"

    # --- status --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The controller's status from the shared row (every replica reports the same)."""
        with store.connect(self.config.database_url) as conn:
            rows = store.read_controller(conn, self.key)
            drift = store.drifted_names(conn, self.live_scope)
            view = (
                describe(conn, rows[0], drift)
                if rows
                else {
                    "source": {
                        "repo": self.source.display_url,
                        "branch": self.config.branch,
                        "path": self.config.path,
                    },
                    "state": decisions.OUT_OF_SYNC,
                    "reason": "no sync has run yet",
                }
            )
            conn.rollback()
        windows = self.config.options.guards.deny_windows
        open_window = denied_until(windows, self.clock())
        view["deny_window"] = {
            "windows": [w.describe() for w in windows],
            "open": open_window is not None,
            "until": format_time(open_window[1]) if open_window else None,
        }
        view["replica"] = self.replica
        if self.leader_fn is not None:
            view["beat"] = self.leader_fn()
        return view


def lock_file_for(database_url: str, state: Path, key: str) -> str:
    """SQLite's controller lock: a file beside the database (replicas on one host share the
    database file, not a state directory); elsewhere unused."""
    name = f".syncd-serve-{key[:12]}.lock"
    path = store.sqlite_file(database_url)
    if path:
        database = Path(path)
        return str(database.with_name(database.name + name))
    return str(state / name)


def database_ready(url: str) -> str | None:
    """None when the database answers, else why not."""
    try:
        store.ping(url)
    except (SyncdError, DatabaseError) as exc:
        return redact_url(exc.message if isinstance(exc, SyncdError) else str(exc).splitlines()[0])
    return None


def state_dir(given: str | None) -> Path:
    path = Path(given or os.environ.get("SYNCD_STATE_DIR") or ".syncd-state")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path

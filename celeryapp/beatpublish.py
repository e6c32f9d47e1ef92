"""Publishing claimed runs, and settling what went out.

A burst is published in one producer; every `SETTLE_EVERY` messages (and every TTL/3
seconds) what went out is settled — the core told, the ledger's publish marks and the run
state written — and the lock renewed, stopping the moment it is lost (`LostLock`): what
was not sent stays claimed and unpublished, for the next leader to republish. Runs sent
while the database was away are kept in `deferred` until it answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis

from celeryapp import runstore
from celeryapp.beatcore import BeatCore, Run
from celeryapp.dueplan import Entry, message_expiry
from celeryapp.lock import BeatLock
from celeryapp.schedules import task_id, to_utc

log = logging.getLogger("celeryapp.beat")

# A long burst stops this often to record what went out and renew the lock.
SETTLE_EVERY = 500


class LostLock(Exception):
    """The lock went to another beat (or could not be renewed) in the middle of a burst."""


class Publisher:
    def __init__(
        self,
        app: Any,
        core: BeatCore,
        lock: BeatLock,
        engine: Any,
        *,
        settle_seconds: float,
        sender: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.core = core
        self.lock = lock
        self.engine = engine
        self.settle_seconds = settle_seconds
        self.sender = sender
        self.clock = clock
        # Sent while the database was away: claims, publish marks and run state follow.
        self.deferred: list[Run] = []
        self._failing: set[str] = set()

    def send(
        self, runs: list[Run], now: datetime, *, deferred: bool = False, recovered: bool = False
    ) -> None:
        """Publish claimed runs; settle (publish marks, run state, lock) as it goes.
        `deferred`: not claimed yet (the database is away); `recovered`: claimed by a beat
        that never published them, so a failure keeps the claim for the next sweep."""
        sent: list[Run] = []
        failed: list[Run] = []
        settle_at = time.monotonic() + self.settle_seconds
        total = 0
        try:
            with self.app.producer_or_acquire() as producer:
                for i, run in enumerate(runs):
                    if i and (i % SETTLE_EVERY == 0 or time.monotonic() >= settle_at):
                        self.settle(sent, failed, now, deferred=deferred, recovered=recovered)
                        total += len(sent)
                        sent, failed = [], []
                        self._renew_or_raise()
                        settle_at = time.monotonic() + self.settle_seconds
                    if self._publish_one(run, producer):
                        sent.append(run)
                    else:
                        failed.append(run)
        finally:
            # Also on LostLock: what went out is recorded; what did not stays claimed and
            # unpublished, for the next leader to republish.
            self.settle(sent, failed, now, deferred=deferred, recovered=recovered)
            total += len(sent)
            if total:
                first = ", ".join(task_id(r.name, r.due) for r in runs[:5])
                more = f" and {total - 5} more" if total > 5 else ""
                log.info("sent %d due run(s): %s%s", total, first, more)

    def _publish_one(self, run: Run, producer: Any) -> bool:
        try:
            self._publish(run.entry, run.due, producer)
        except Exception as exc:  # noqa: BLE001 - the broker's errors are many; all retry
            if run.name not in self._failing:
                log.error("cannot publish %s (%s); will retry", run.name, exc)
            self._failing.add(run.name)
            return False
        self._failing.discard(run.name)
        return True

    def _renew_or_raise(self) -> None:
        try:
            held = self.lock.hold(self.clock())
        except (redis.RedisError, runstore.DatabaseError, OSError) as exc:
            log.error("cannot renew the beat lock mid-burst (%s); stopping dispatch", exc)
            raise LostLock from exc
        if not held:
            raise LostLock

    def settle(
        self,
        sent: list[Run],
        failed: list[Run],
        now: datetime,
        *,
        deferred: bool = False,
        recovered: bool = False,
    ) -> None:
        """Tell the core, and make durable: publish marks and run state of what was sent,
        released claims of what could not be (the core tries those again)."""
        for run in sent:
            self.core.done(run)
        for run in failed:
            self.core.failed(run, now)
        if deferred:
            self.deferred.extend(sent)
            return
        if not (sent or (failed and not recovered)):
            return
        try:
            with self.engine.begin() as conn:
                if failed and not recovered:
                    runstore.release(conn, [(r.name, r.due) for r in failed])
                if sent:
                    runstore.mark_published(conn, [(r.name, r.due) for r in sent], when=now)
                    runstore.write_run_state(conn, [(r.name, r.due) for r in sent])
        except runstore.DatabaseError as exc:
            # Sent, and the ledger holds their claims, so nothing repeats from this beat;
            # marks and run state are written again with the next successful tick.
            log.error("cannot record %d sent runs: %s", len(sent), exc)
            self.deferred.extend(sent)

    def flush_deferred(self, now: datetime) -> None:
        """Write the claims, publish marks and run state of runs sent earlier."""
        if not self.deferred:
            return
        pending = list(self.deferred)
        pairs = [(r.name, r.due) for r in pending]
        try:
            with self.engine.begin() as conn:
                runstore.claim(
                    conn,
                    [(n, d, task_id(n, d)) for n, d in pairs],
                    holder=self.lock.token,
                    now=now,
                )
                runstore.mark_published(conn, pairs, when=now)
                runstore.write_run_state(conn, pairs)
        except runstore.DatabaseError:
            return
        del self.deferred[: len(pending)]
        log.info("database is back: recorded %d run(s) sent while it was away", len(pending))

    def _publish(self, entry: Entry, due: datetime, producer: Any) -> None:
        tid = task_id(entry.name, due)
        options: dict[str, Any] = dict(entry.options)
        expires = message_expiry(entry, due)
        if expires is not None:
            options["expires"] = expires
        self.app.send_task(
            entry.task,
            args=list(entry.args),
            kwargs=dict(entry.kwargs),
            task_id=tid,
            headers={
                "syncd_schedule": entry.name,
                "syncd_due": to_utc(due).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "syncd_overlap": entry.overlap,
                "syncd_beat": self.sender,
            },
            producer=producer,
            **options,
        )
        log.debug("sent %s -> %s", tid, entry.task)

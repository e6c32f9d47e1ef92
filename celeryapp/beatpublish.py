"""Publishing claimed runs, and settling what went out.

A burst is published in one producer, `SETTLE_EVERY` runs at a time (or what TTL/3
seconds allow) through `publish.publish_chunk` (one round trip per chunk on Redis); after
each chunk what went out is settled — the core told, the ledger's publish marks and the run
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
from celeryapp.dueplan import Entry, message
from celeryapp.lock import BeatLock
from celeryapp.publish import Outcome, Sender, publish_chunk
from celeryapp.schedules import task_id

log = logging.getLogger("celeryapp.beat")

# A burst is published this many runs at a time; after each chunk it records what went
# out and renews the lock.
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
        on_sent: Callable[[list[Run]], None] = lambda runs: None,
    ) -> None:
        self.app = app
        self.core = core
        self.lock = lock
        self.engine = engine
        self.settle_seconds = settle_seconds
        self.sender = sender
        self.clock = clock
        self.on_sent = on_sent  # told of every run published, as it goes out (metrics)
        # Sent while the database was away: claims, publish marks and run state follow.
        self.deferred: list[Run] = []
        self._failing: set[str] = set()
        self._sender = Sender(app)

    def send(
        self, runs: list[Run], now: datetime, *, deferred: bool = False, recovered: bool = False
    ) -> None:
        """Publish claimed runs a chunk at a time (one broker round trip each on Redis),
        settling (publish marks, run state, lock) after every chunk. `deferred`: not
        claimed yet (the database is away); `recovered`: claimed by a beat that never
        published them, so a failure keeps the claim for the next sweep."""
        pending = list(runs)
        total = 0
        try:
            with self.app.producer_or_acquire() as producer:
                while pending:
                    self._sender.new_chunk()
                    outcome = publish_chunk(
                        producer,
                        pending[:SETTLE_EVERY],
                        lambda run: self._publish(run.entry, run.due, producer),
                        until=time.monotonic() + self.settle_seconds,
                    )
                    pending = outcome.rest + pending[SETTLE_EVERY:]
                    self._note_failures(outcome)
                    self.settle(
                        outcome.sent, outcome.failed, now, deferred=deferred, recovered=recovered
                    )
                    total += len(outcome.sent)
                    if pending:
                        self._renew_or_raise()
        finally:
            # Also on LostLock: what went out is recorded; what did not stays claimed and
            # unpublished, for the next leader to republish.
            if total:
                first = ", ".join(task_id(r.name, r.due) for r in runs[:5])
                more = f" and {total - 5} more" if total > 5 else ""
                log.info("sent %d due run(s): %s%s", total, first, more)

    def _note_failures(self, outcome: Outcome[Run]) -> None:
        """Log a schedule that cannot be published once, not on every retry."""
        for run in outcome.failed:
            if run.name not in self._failing:
                log.error("cannot publish %s (%s); will retry", run.name, outcome.error)
            self._failing.add(run.name)
        for run in outcome.sent:
            self._failing.discard(run.name)

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
        self.on_sent(sent)
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
        msg = message(entry, due, task_id=tid, beat=self.sender)
        # What app.send_task(msg.task, msg.args, ..., producer=producer) would send.
        self._sender.send(producer, msg, schedule=entry.name, source=entry)
        log.debug("sent %s -> %s", tid, entry.task)

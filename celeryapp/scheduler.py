"""The database beat: `celery -A celeryapp.app beat` (the app's default scheduler).

This is the shell around `beatcore.BeatCore`, which makes every due-time decision. Each
tick, in this order:

1. hold the lock (acquire, or renew by compare-and-set); a beat that cannot stops
   dispatching at once and stands by; a standby that wins it loads the whole table, then
   republishes the runs a previous leader claimed and never published;
2. notice changes: the Redis revision key every tick (an integer, never a clock), and the
   database revision every `beat_poll_interval` seconds, so a lost Redis write is never a
   lost change; reload only the rows the new revisions name;
3. take the runs due from the core, claim them in the dispatch ledger in one statement,
   publish only what this beat claimed; every few hundred messages (and every TTL/3
   seconds) mark what went out as published, write its run state, and renew the lock,
   stopping the moment it is lost;
4. sleep until the next due time, at most `beat_max_interval`, listening for changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from celery.beat import Scheduler
from sqlalchemy import Engine, Table, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from celeryapp import codec, ledger, runstate
from celeryapp.beatcore import BeatCore, Run
from celeryapp.dueplan import BadRow, Entry, entry_from_row, message, window
from celeryapp.lock import BeatLock, LeaseLock, RedisLock
from celeryapp.models import Revision, TaskSchedule, json_column_loads
from celeryapp.publish import Outcome, publish_chunk
from celeryapp.redact import redact_url
from celeryapp.schedules import task_id, to_utc
from celeryapp.settings import Settings, revision_key, sqlalchemy_url

log = logging.getLogger("celeryapp.beat")

table = cast(Table, TaskSchedule.__table__)
# What entry_from_row reads; descriptions, provenance and hashes stay in the database.
_ENTRY_COLUMNS = [table.c[name] for name in codec.BEAT_COLUMNS]
revisions = cast(Table, Revision.__table__)
# Reload everything instead of by name when a change names more rows than this.
_FULL_RELOAD_NAMES = 20_000
_PRUNE_EVERY = 3600.0
# A burst is published this many runs at a time (one round trip on Redis); after each
# chunk it records what went out and renews the lock.
_SETTLE_EVERY = 500
# Runs claimed but never published are looked for this far back.
_RECOVER_WITHIN = timedelta(days=1)
_RETRY_DELAY = timedelta(seconds=1)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LostLock(Exception):
    """The lock went to another beat (or could not be renewed) in the middle of a burst."""


class DatabaseScheduler(Scheduler):  # type: ignore[misc]
    """Celery beat scheduler backed by the schedule table, guarded by the beat lock."""

    clock: Callable[[], datetime] = staticmethod(_utcnow)
    max_interval: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        app = kwargs.get("app") or args[0]
        settings = getattr(app, "syncd_settings", None)
        self.settings: Settings = (
            settings if isinstance(settings, Settings) else (Settings.from_env())
        )
        self.engine: Engine = create_engine(
            sqlalchemy_url(self.settings.database_url),
            pool_pre_ping=True,
            json_deserializer=json_column_loads,
        )
        self.redis: redis.Redis[bytes] | None = None
        if self.settings.redis_url:
            self.redis = redis.Redis.from_url(
                self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2
            )
        self.lock: BeatLock = (
            RedisLock(self.redis, self.settings.redis_prefix, self.settings.beat_lock_ttl)
            if self.redis is not None
            else LeaseLock(self.engine, self.settings.beat_lock_ttl)
        )
        # A due time this late still counts as on time: a leader renews within a third
        # of the TTL, so a healthy beat is never later than that.
        self.core = BeatCore(
            grace=timedelta(seconds=self.settings.beat_lock_ttl), retry_delay=_RETRY_DELAY
        )
        self.sender = f"{socket.gethostname()}:{os.getpid()}"
        self.revision: int | None = None
        self.leading = False
        self._last_poll = 0.0
        self._last_prune = 0.0
        self._last_recover = 0.0
        self._failing: set[str] = set()
        self._given_up: set[tuple[str, datetime]] = set()
        self._pubsub: Any = None
        self._closed = False
        # Sent while the database was away: claims, publish marks and run state follow.
        self._deferred: list[Run] = []
        super().__init__(*args, **kwargs)
        ttl = self.settings.beat_lock_ttl
        if self.max_interval >= ttl:
            # A leader must renew well within the TTL, or the lock lapses between ticks (W2).
            log.warning(
                "beat max interval %.1fs is not below the lock TTL %.1fs; using %.1fs",
                self.max_interval,
                ttl,
                ttl / 3,
            )
            self.max_interval = ttl / 3

    # --- Celery's Scheduler interface ---------------------------------------------------

    def setup_schedule(self) -> None:
        """Nothing to load yet: a beat loads the table when it becomes the leader."""

    @property
    def schedule(self) -> dict[str, Entry]:
        return self.core.entries

    @property
    def entries(self) -> dict[str, Entry]:
        return self.core.entries

    @property
    def info(self) -> str:
        where = redact_url(self.settings.database_url)
        lock = (
            f"redis {redact_url(self.settings.redis_url)}"
            if self.settings.redis_url
            else ("database lease")
        )
        return (
            f"    . database -> {where}\n    . lock -> {lock} (ttl {self.settings.beat_lock_ttl}s)"
        )

    def sync(self) -> None:
        """Run state is written in every tick; nothing is pending here."""

    def should_sync(self) -> bool:
        return False

    def close(self) -> None:
        # Run state is already durable; only now give up the lock (fba W4 released first).
        self._closed = True
        try:
            if self.leading:
                self.lock.release()
        except (redis.RedisError, SQLAlchemyError, OSError) as exc:
            log.warning("could not release the beat lock: %s", exc)
        self.leading = False
        self._close_pubsub()
        super().close()
        self.engine.dispose()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._closed:
            raise SystemExit  # see _wait_for_signal
        now = self.clock()
        if not self._hold_lock(now):
            return min(self.max_interval, self.settings.beat_lock_ttl / 3)
        if not self.leading:
            if not self._load_all(now):
                return self.max_interval
            self.leading = True
        self._check_revision(now)
        try:
            self._recover(now)
            self._dispatch_due(now)
        except LostLock:
            self._stand_by()
            return min(self.max_interval, self.settings.beat_lock_ttl / 3)
        self._housekeeping(now)
        wait = self.max_interval
        wakeup = self.core.next_wakeup()
        if wakeup is not None:
            wait = (wakeup - to_utc(self.clock())).total_seconds()
            wait = max(0.0, min(wait, self.max_interval))
        return self._wait_for_signal(wait)

    def _wait_for_signal(self, wait: float) -> float:
        """Spend the idle time listening on the revision channel instead of sleeping, so an
        apply reaches the heap in milliseconds, not at the next tick. Returns what is left
        for Celery's loop to sleep (0 when we already waited)."""
        if wait <= 0 or self.redis is None:
            return wait
        try:
            if self._pubsub is None:
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(revision_key(self.settings.redis_prefix))
            self._pubsub.get_message(timeout=wait)
        except (redis.RedisError, OSError, ValueError) as exc:
            if self._closed:
                # SIGTERM arrived while we waited: Celery's handler closed the scheduler
                # (and with it this socket) and raised SystemExit, which redis-py's
                # `finally` replaced with an error on the closed socket. Exit as asked;
                # swallowing it kept the beat ticking until it was killed.
                raise SystemExit from exc
            log.debug("revision channel unavailable (%s); sleeping instead", exc)
            self._close_pubsub()
            return wait
        return 0.0

    def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(redis.RedisError, OSError, ValueError):
                self._pubsub.close()
            self._pubsub = None

    # --- leadership ---------------------------------------------------------------------

    def _hold_lock(self, now: datetime) -> bool:
        try:
            held = self.lock.hold(now)
        except (redis.RedisError, SQLAlchemyError, OSError) as exc:
            if self.leading:
                log.error("cannot renew the beat lock (%s); stopping dispatch", exc)
            held = False
        if not held and self.leading:
            self._stand_by()
        return held

    def _stand_by(self) -> None:
        log.warning("lost the beat lock to %s; standing by", self._safe_leader())
        self.leading = False
        self.core.clear()
        self.revision = None

    def _safe_leader(self) -> str:
        try:
            return self.lock.leader() or "nobody"
        except (redis.RedisError, SQLAlchemyError, OSError):
            return "an unknown beat"

    # --- loading ------------------------------------------------------------------------

    def _current_revision(self, conn: Any) -> int:
        return int(conn.execute(select(func.coalesce(func.max(revisions.c.id), 0))).scalar())

    def _load_all(self, now: datetime) -> bool:
        """Load every enabled row (leader only, before its first dispatch)."""
        started = time.perf_counter()
        entries: list[Entry] = []
        try:
            with self.engine.connect() as conn:
                revision = self._current_revision(conn)
                result = conn.execute(select(*_ENTRY_COLUMNS).where(table.c.enabled.is_(True)))
                keys = list(result.keys())
                # Batches of fetchmany, rows zipped with the column names by position:
                # iterating the result fetched one row at a time and built a key view each.
                for batch in result.partitions(5000):
                    for values in batch:
                        entry = self._entry(dict(zip(keys, values, strict=True)))
                        if entry is not None:
                            entries.append(entry)
        except SQLAlchemyError as exc:
            log.error(
                "cannot load schedules from %s: %s", redact_url(self.settings.database_url), exc
            )
            self.core.clear()
            return False
        self.core.load(entries, now)
        self.revision = revision
        self._last_recover = 0.0  # look for runs the last leader left unpublished now
        log.info(
            "leading: loaded %d schedules at revision %d in %.0f ms",
            len(self.core.entries),
            revision,
            (time.perf_counter() - started) * 1000,
        )
        return True

    def _entry(self, row: dict[str, Any]) -> Entry | None:
        """The row as an Entry, or None when it cannot be scheduled (logged, never raised)."""
        if not row.get("enabled", True):
            return None
        try:
            return entry_from_row(row, default_timezone=self.settings.timezone)
        except (BadRow, ValueError, OverflowError) as exc:
            log.error("schedule %r skipped: %s", row.get("name"), exc)
            return None

    def _install(self, name: str, row: dict[str, Any] | None, now: datetime) -> None:
        entry = self._entry(row) if row is not None else None
        try:
            self.core.install(name, entry, now)
        except (ValueError, OverflowError) as exc:
            # A timetable that fails only when asked for a time (an overflow near year 9999).
            log.error("schedule %r skipped: %s", name, exc)
            self.core.install(name, None, now)

    def _check_revision(self, now: datetime) -> None:
        hinted = False
        if self.redis is not None:
            try:
                raw = self.redis.get(revision_key(self.settings.redis_prefix))
                hinted = raw is not None and int(raw) > (self.revision or 0)
            except (redis.RedisError, OSError, ValueError):
                hinted = False
        polled = time.monotonic() - self._last_poll >= self.settings.beat_poll_interval
        if not (hinted or polled):
            return
        self._last_poll = time.monotonic()
        try:
            with self.engine.connect() as conn:
                latest = self._current_revision(conn)
                if latest <= (self.revision or 0):
                    return
                names: set[str] = set()
                for (changed,) in conn.execute(
                    select(revisions.c.changed_names).where(revisions.c.id > (self.revision or 0))
                ):
                    names.update(changed or [])
                if len(names) > _FULL_RELOAD_NAMES:
                    self.leading = False  # the next tick reloads everything
                    return
                started = time.perf_counter()
                rows = {
                    r["name"]: dict(r)
                    for r in conn.execute(
                        select(*_ENTRY_COLUMNS).where(table.c.name.in_(sorted(names)))
                    ).mappings()
                }
        except SQLAlchemyError as exc:
            log.error("cannot read changes: %s", exc)
            return
        for name in names:
            self._install(name, rows.get(name), now)
        log.info(
            "revision %d: reloaded %d changed schedules in %.1f ms",
            latest,
            len(names),
            (time.perf_counter() - started) * 1000,
        )
        self.revision = latest

    # --- dispatch -----------------------------------------------------------------------

    def _dispatch_due(self, now: datetime) -> None:
        self._flush_deferred(now)
        batch = self.core.pop_due(now)
        if not batch:
            return
        claims = [(run.name, run.due, task_id(run.name, run.due)) for run in batch]
        try:
            with self.engine.begin() as conn:
                won = ledger.claim(conn, claims, holder=self.lock.token, now=now)
        except SQLAlchemyError as exc:
            if not isinstance(self.lock, RedisLock):
                # Without Redis the lease itself lives in the database: no proof of
                # leadership, so nothing is sent.
                log.error("cannot claim %d due runs (database: %s); retrying", len(batch), exc)
                for run in batch:
                    self.core.failed(run, now)
                return
            # Leadership was proven on Redis this tick: dispatch from memory and claim
            # afterwards (DESIGN: a database restart must not stop the schedule). The
            # workers' once-only check on the task id covers the rare stalled leader.
            log.warning(
                "database unreachable (%s); sending %d due run(s) from memory, "
                "claims and run state follow when it is back",
                exc,
                len(batch),
            )
            self._send(batch, now, deferred=True)
            return
        mine: list[Run] = []
        taken = 0
        for run in batch:
            if (run.name, run.due) in won:
                mine.append(run)
            else:
                taken += 1
                self.core.done(run)
        if taken:
            # Another beat claimed them (a failover, or a stalled leader that came back).
            log.info("%d due run(s) were already claimed by another beat; not sent again", taken)
        if mine:
            self._send(mine, now)

    def _send(
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
                    outcome = publish_chunk(
                        producer,
                        pending[:_SETTLE_EVERY],
                        lambda run: self._publish(run.entry, run.due, producer),
                        until=time.monotonic() + self.settings.beat_lock_ttl / 3,
                    )
                    pending = outcome.rest + pending[_SETTLE_EVERY:]
                    self._note_failures(outcome)
                    self._settle(
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
        except (redis.RedisError, SQLAlchemyError, OSError) as exc:
            log.error("cannot renew the beat lock mid-burst (%s); stopping dispatch", exc)
            raise LostLock from exc
        if not held:
            raise LostLock

    def _settle(
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
            self._deferred.extend(sent)
            return
        if not (sent or (failed and not recovered)):
            return
        try:
            with self.engine.begin() as conn:
                if failed and not recovered:
                    ledger.release(conn, [(r.name, r.due) for r in failed])
                if sent:
                    ledger.mark_published(conn, [(r.name, r.due) for r in sent], when=now)
                    runstate.write(conn, [(r.name, r.due) for r in sent])
        except SQLAlchemyError as exc:
            # Sent, and the ledger holds their claims, so nothing repeats from this beat;
            # marks and run state are written again with the next successful tick.
            log.error("cannot record %d sent runs: %s", len(sent), exc)
            self._deferred.extend(sent)

    def _flush_deferred(self, now: datetime) -> None:
        """Write the claims, publish marks and run state of runs sent earlier."""
        if not self._deferred:
            return
        pending = list(self._deferred)
        pairs = [(r.name, r.due) for r in pending]
        try:
            with self.engine.begin() as conn:
                ledger.claim(
                    conn,
                    [(n, d, task_id(n, d)) for n, d in pairs],
                    holder=self.lock.token,
                    now=now,
                )
                ledger.mark_published(conn, pairs, when=now)
                runstate.write(conn, pairs)
        except SQLAlchemyError:
            return
        del self._deferred[: len(pending)]
        log.info("database is back: recorded %d run(s) sent while it was away", len(pending))

    def _publish(self, entry: Entry, due: datetime, producer: Any) -> None:
        tid = task_id(entry.name, due)
        msg = message(entry, due, task_id=tid, beat=self.sender)
        self.app.send_task(
            msg.task,
            args=msg.args,
            kwargs=msg.kwargs,
            task_id=msg.task_id,
            headers=msg.headers,
            producer=producer,
            **msg.options,
        )
        log.debug("sent %s -> %s", tid, entry.task)

    # --- recovery -----------------------------------------------------------------------

    def _recover(self, now: datetime) -> None:
        """Republish runs claimed and never published (a beat crashed, or stalled past its
        lock, between claim and publish), same task id: the worker's once-only check makes
        a second delivery harmless, while a lost run is lost for good. On takeover, then
        every poll; this beat's own claims are all settled by the time it gets here."""
        if time.monotonic() - self._last_recover < self.settings.beat_poll_interval:
            return
        self._last_recover = time.monotonic()
        grace = timedelta(seconds=self.settings.beat_lock_ttl)
        try:
            with self.engine.connect() as conn:
                lost = ledger.unpublished(
                    conn, claimed_before=now - grace, since=now - _RECOVER_WITHIN
                )
        except SQLAlchemyError as exc:
            log.warning("cannot look for unpublished runs: %s", exc)
            return
        waiting = {(r.name, r.due) for r in self._deferred}
        lost = [pair for pair in lost if pair not in waiting and pair not in self._given_up]
        if not lost:
            return
        runs, stale = self._recoverable(lost, now)
        if stale:
            # Too late to run by `catchup`, or the schedule is gone: said once, left as is.
            self._given_up.update(stale)
            log.warning(
                "%d run(s) claimed and never published are too old to send, or their "
                "schedule is gone; not sent: %s",
                len(stale),
                ", ".join(task_id(n, d) for n, d in stale[:5]),
            )
        if not runs:
            return
        log.warning(
            "republishing %d run(s) claimed and never published: %s",
            len(runs),
            ", ".join(task_id(r.name, r.due) for r in runs[:5]),
        )
        # The same settled, lock-checked loop as a burst: thousands may be waiting.
        self._send(runs, now, recovered=True)

    def _recoverable(
        self, lost: Iterable[tuple[str, datetime]], now: datetime
    ) -> tuple[list[Run], list[tuple[str, datetime]]]:
        runs: list[Run] = []
        stale: list[tuple[str, datetime]] = []
        ttl = timedelta(seconds=self.settings.beat_lock_ttl)
        for name, due in lost:
            entry = self.core.entries.get(name)
            if entry is None or to_utc(now) - to_utc(due) > max(window(entry, due), ttl):
                stale.append((name, due))
            else:
                runs.append(Run(entry, to_utc(due)))
        return runs, stale

    # --- housekeeping -------------------------------------------------------------------

    def _housekeeping(self, now: datetime) -> None:
        try:
            self.lock.heartbeat(
                {
                    "holder": self.lock.token,
                    "time": now.isoformat(),
                    "revision": self.revision,
                    "schedules": len(self.core.entries),
                },
                now,
            )
        except (redis.RedisError, OSError) as exc:
            log.debug("heartbeat failed: %s", exc)
        if time.monotonic() - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = time.monotonic()
        retention = timedelta(days=self.settings.ledger_retention_days)
        try:
            with self.engine.begin() as conn:
                removed = ledger.prune(conn, now=now, retention=retention)
                executions = ledger.prune_executions(
                    conn, before=now - timedelta(seconds=self.settings.once_retention)
                )
            if removed or executions:
                log.info(
                    "pruned %d dispatch ledger rows older than %s and %d execution marks",
                    removed,
                    retention,
                    executions,
                )
        except SQLAlchemyError as exc:
            log.warning("cannot prune the dispatch ledger: %s", exc)

    def pending(self) -> Iterable[tuple[datetime, str]]:
        """(due, name) of everything queued, for `syncd status` and tests."""
        return self.core.pending()

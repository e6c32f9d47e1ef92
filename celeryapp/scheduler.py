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

With `SYNCD_BEAT_SHARDS=N` > 1 the tick starts differently (`_tick_sharded`): heartbeat
into the live-beat set, renew every held shard lock, and follow `shards.plan` (take free
shards up to ceil(N / live), give back the ones over it, leaving a handoff marker); the
beat loads, reloads, recovers and dispatches only its own shards' schedules.

The steps live beside it: `beatreload` (loading and reloading by revision), `beatpublish`
(publishing and settling a burst), `beatrecover` (republishing lost claims); every
statement they run is in `runstore`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from celery.beat import Scheduler

from celeryapp import beatmetrics, beatrecover, beatreload, runstore, shards
from celeryapp.beatcore import BeatCore, Run
from celeryapp.beatpublish import LostLock, Publisher
from celeryapp.clients import new_client
from celeryapp.dueplan import Entry
from celeryapp.lock import HANDOFF_TTLS, BeatLock, LeaseLock, RedisLock, ShardLocks
from celeryapp.redact import redact_url
from celeryapp.schedules import task_id, to_utc
from celeryapp.settings import Settings, revision_key

log = logging.getLogger("celeryapp.beat")

_PRUNE_EVERY = 3600.0
_RETRY_DELAY = timedelta(seconds=1)
_LOCK_ERRORS = (redis.RedisError, runstore.DatabaseError, OSError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
        ttl = self.settings.beat_lock_ttl
        self.engine = runstore.new_engine(self.settings.database_url)
        self.redis: redis.Redis[bytes] | None = None
        if self.settings.redis_url:
            self.redis = new_client(self.settings.redis_url, timeout=2)
        self.lock: BeatLock = (
            RedisLock(self.redis, self.settings.redis_prefix, ttl)
            if self.redis is not None
            else LeaseLock(self.engine, ttl)
        )
        self.shards = self.settings.beat_shards
        self.shard_locks: ShardLocks | None = None
        if self.shards > 1 and self.redis is not None:  # Settings refuses N > 1 without Redis
            self.shard_locks = ShardLocks(self.redis, self.settings.redis_prefix, ttl, self.shards)
            self.lock = self.shard_locks
        self._dispatched_to: datetime | None = None  # the last tick whose dispatch completed
        # A due time this late still counts as on time: a leader renews within a third
        # of the TTL, so a healthy beat is never later than that.
        self.core = BeatCore(grace=timedelta(seconds=ttl), retry_delay=_RETRY_DELAY)
        self.metrics = beatmetrics.BeatMetrics(
            leading=lambda: self.leading,
            revision=lambda: self.revision,
            per_schedule=self.settings.beat_metrics_per_schedule,
        )
        self.publisher = Publisher(
            app,
            self.core,
            self.lock,
            self.engine,
            settle_seconds=ttl / 3,
            sender=f"{socket.gethostname()}:{os.getpid()}",
            clock=lambda: self.clock(),  # noqa: PLW0108 - read late: tests swap the clock
            on_sent=self.metrics.dispatched,
        )
        self.revision: int | None = None
        self.leading = False
        self._last_poll = 0.0
        self._last_prune = 0.0
        self._last_recover = 0.0
        self._given_up: set[tuple[str, datetime]] = set()
        self._pubsub: Any = None
        self._closed = False
        self._stop_metrics: Callable[[], None] = lambda: None
        super().__init__(*args, **kwargs)
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
        """Nothing to load yet: a beat loads the table when it becomes the leader. The
        metrics listener starts here: Celery also makes a lazy scheduler, for its banner,
        that never runs and never calls this."""
        port = self.settings.beat_metrics_port
        if port is not None:
            self._stop_metrics = beatmetrics.serve(
                self.metrics, self.settings.beat_metrics_address, port
            )

    @property
    def schedule(self) -> dict[str, Entry]:
        return self.core.entries

    @property
    def entries(self) -> dict[str, Entry]:
        return self.core.entries

    @property
    def info(self) -> str:
        where, redis_url = redact_url(self.settings.database_url), self.settings.redis_url
        lock = f"redis {redact_url(redis_url)}" if redis_url else "database lease"
        if self.shards > 1:
            lock += f", {self.shards} shards"
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
            if self.shard_locks is not None:
                # A clean stop hands its shards over: the next leaders fire what comes due
                # from the last dispatch on, instead of judging it missed.
                self.shard_locks.give_back(sorted(self.shard_locks.held), self._dispatched_to)
                self.shard_locks.leave()
            elif self.leading:
                self.lock.release()
        except _LOCK_ERRORS as exc:
            log.warning("could not release the beat lock: %s", exc)
        self.leading = False
        self._close_pubsub()
        self._stop_metrics()
        super().close()
        self.engine.dispose()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self._closed:
            raise SystemExit  # see _wait_for_signal
        now = self.clock()
        if self.shard_locks is not None:
            return self._tick_sharded(self.shard_locks, now)
        if not self._hold_lock(now):
            return min(self.max_interval, self.settings.beat_lock_ttl / 3)
        if not self.leading:
            if not self._load_all(now):
                return self.max_interval
            self.leading = True
        if not self._lead(now):
            return min(self.max_interval, self.settings.beat_lock_ttl / 3)
        self._dispatched_to = now
        self._housekeeping(now)
        self.metrics.tick(self.core, leading=self.leading)
        return self._wait_for_signal(self._until_next(self.max_interval))

    def _tick_sharded(self, locks: ShardLocks, now: datetime) -> float:
        standby = min(self.max_interval, self.settings.beat_lock_ttl / 3)
        release = self._rebalance(locks, now)
        self.leading = bool(locks.held)
        if not self.leading:
            self.metrics.tick(self.core, leading=False)
            return self._wait_for_signal(standby)
        if not self._lead(now):
            return standby
        self._dispatched_to = now
        if release:
            self._give_back(locks, release, now)
        self._housekeeping(now)
        self.metrics.tick(self.core, leading=self.leading)
        return self._wait_for_signal(self._until_next(self.max_interval))

    def _lead(self, now: datetime) -> bool:
        """A leader's work of one tick, sharded or not: changes, ended pauses, runs to
        republish, runs due. False when the lock was lost on the way (we stood by)."""
        self._check_revision(now)
        for name in self.core.resume_expired(now):
            log.info("schedule %r resumed: its pause ended", name)
        try:
            self._recover(now)
            self._dispatch_due(now)
        except LostLock:
            self._stand_by()
            return False
        return True

    def _until_next(self, most: float) -> float:
        wakeup = self.core.next_wakeup()
        if wakeup is None:
            return most
        return max(0.0, min((wakeup - to_utc(self.clock())).total_seconds(), most))

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
        except _LOCK_ERRORS as exc:
            if self.leading:
                log.error("cannot renew the beat lock (%s); stopping dispatch", exc)
            held = False
        if held:
            self.metrics.renewed()
        elif self.leading:
            self._stand_by()
        return held

    def _rebalance(self, locks: ShardLocks, now: datetime) -> list[int]:
        """Heartbeat, renew the held shards, take free ones up to the quota; the shards
        to give back after this tick's dispatch (over the quota)."""
        try:
            lost = locks.renew()
            live = locks.live(now)
            holders = locks.holders()
        except _LOCK_ERRORS as exc:
            if locks.held:
                log.error("cannot renew the shard locks (%s); stopping dispatch", exc)
                self._drop_shards(set(locks.held))
                locks.held.clear()
                self.metrics.tick(self.core, leading=False)
            return []
        if lost:
            log.warning("lost shard(s) %s; no longer dispatching them", sorted(lost))
            self._drop_shards(lost)
        free = [i for i, holder in enumerate(holders) if holder is None]
        todo = shards.plan(self.shards, locks.token, live, locks.held, free)
        if todo.acquire:
            try:
                won = locks.acquire(list(todo.acquire))
            except _LOCK_ERRORS as exc:
                log.warning("cannot take shard(s) %s: %s", list(todo.acquire), exc)
                won = set()
            if won and not self._add_shards(locks, won, now):
                with contextlib.suppress(*_LOCK_ERRORS):
                    locks.give_back(sorted(won), None)
        return list(todo.release)

    def _add_shards(self, locks: ShardLocks, won: set[int], now: datetime) -> bool:
        """Load the rows of the shards just won: as a handoff when the beat that gave a
        shard back left its marker (recent enough), else as a takeover."""
        started = time.perf_counter()
        ttl = timedelta(seconds=self.settings.beat_lock_ttl)
        markers: dict[int, datetime | None] = {}
        for i in sorted(won):
            try:
                marker = locks.handoff(i)
            except _LOCK_ERRORS:
                marker = None
            fresh = marker is not None and to_utc(now) - to_utc(marker) <= ttl * HANDOFF_TTLS
            markers[i] = marker if fresh else None
        n = self.shards
        try:
            loaded = beatreload.load_entries(
                self.engine,
                self.settings.timezone,
                keep=shards.keeper(n, won),
                progress=lambda: self._renew_quietly(locks),
            )
        except runstore.DatabaseError as exc:
            log.error(
                "cannot load schedules from %s: %s", redact_url(self.settings.database_url), exc
            )
            return False
        by_shard: dict[int, list[Entry]] = {i: [] for i in won}
        for entry in loaded.entries:
            by_shard[shards.shard_of(entry.name, n)].append(entry)
        for i, entries in sorted(by_shard.items()):
            pauses = {k: v for k, v in loaded.pauses.items() if shards.shard_of(k, n) == i}
            self.core.add(entries, now, pauses, handed_off=markers[i])
        with contextlib.suppress(*_LOCK_ERRORS):
            locks.handoff_done(sorted(won))
        taken = won - locks.held  # by another beat while this one was loading
        if taken:
            log.warning("shard(s) %s taken by another beat during the load", sorted(taken))
            self._drop_shards(taken)
        if self.revision is None:
            self.revision = loaded.revision
        self._last_recover = 0.0  # look for runs the last leader left unpublished now
        handed = sorted(i for i, m in markers.items() if m is not None)
        log.info(
            "beat %s leading shard(s) %s of %d (%s): loaded %d schedules at revision %d in %.0f ms",
            locks.token,
            sorted(won),
            n,
            f"handed over: {handed}" if handed else "taken over",
            len(loaded.entries),
            loaded.revision,
            (time.perf_counter() - started) * 1000,
        )
        return True

    def _renew_quietly(self, locks: ShardLocks) -> None:
        """Renew in the middle of a long load (a million rows outlast the lock TTL)."""
        with contextlib.suppress(*_LOCK_ERRORS):
            locks.renew()

    def _give_back(self, locks: ShardLocks, release: list[int], now: datetime) -> None:
        """Give shards over the quota back, with a marker: dispatched up to `now`."""
        try:
            locks.give_back(release, now)
        except _LOCK_ERRORS as exc:
            log.warning("cannot give back shard(s) %s: %s", release, exc)
            return
        self._drop_shards(set(release))
        log.info(
            "beat %s gave back shard(s) %s (dispatched up to %s)",
            locks.token,
            release,
            now.isoformat(),
        )

    def _drop_shards(self, dropped: set[int]) -> None:
        n = self.shards
        self.core.drop(
            [name for name in list(self.core.entries) if shards.shard_of(name, n) in dropped]
        )

    def _mine(self, name: str) -> bool:
        """Whether `name` is in a shard this beat leads (always, unsharded)."""
        if self.shard_locks is None:
            return True
        return shards.shard_of(name, self.shards) in self.shard_locks.held

    def _stand_by(self) -> None:
        if self.shard_locks is not None:
            # A shard lost mid-burst: the runs handed out and not sent stay claimed for
            # recovery; start afresh, as a takeover, from the next tick.
            log.warning("lost a shard lock mid-burst; giving back every shard")
            with contextlib.suppress(*_LOCK_ERRORS):
                self.shard_locks.give_back(sorted(self.shard_locks.held), None)
            self.shard_locks.held.clear()
            self.leading = False
            self.core.clear()
            self.revision = None
            self.metrics.tick(self.core, leading=False)
            return
        log.warning("lost the beat lock to %s; standing by", self._safe_leader())
        self.leading = False
        self.core.clear()
        self.revision = None
        self.metrics.tick(self.core, leading=False)

    def _safe_leader(self) -> str:
        try:
            return self.lock.leader() or "nobody"
        except _LOCK_ERRORS:
            return "an unknown beat"

    # --- loading ------------------------------------------------------------------------

    def _load_all(self, now: datetime) -> bool:
        """Load every enabled row (leader only, before its first dispatch)."""
        started = time.perf_counter()
        try:
            loaded = beatreload.load_entries(self.engine, self.settings.timezone)
        except runstore.DatabaseError as exc:
            log.error(
                "cannot load schedules from %s: %s", redact_url(self.settings.database_url), exc
            )
            self.core.clear()
            return False
        self.core.load(loaded.entries, now, loaded.pauses)
        self.revision = loaded.revision
        self._last_recover = 0.0  # look for runs the last leader left unpublished now
        log.info(
            "leading: loaded %d schedules (%d paused) at revision %d in %.0f ms",
            len(self.core.entries),
            len(self.core.paused),
            loaded.revision,
            (time.perf_counter() - started) * 1000,
        )
        return True

    def _install(self, name: str, row: dict[str, Any] | None, now: datetime) -> None:
        entry = beatreload.entry_of(row, self.settings.timezone) if row is not None else None
        try:
            self.core.install(name, entry, now)
        except (ValueError, OverflowError) as exc:
            # A timetable that fails only when asked for a time (an overflow near year 9999).
            log.error("schedule %r skipped: %s", name, exc)
            self.core.install(name, None, now)

    def _check_revision(self, now: datetime) -> None:
        hinted = beatreload.hinted(self.redis, self.settings.redis_prefix, self.revision)
        polled = time.monotonic() - self._last_poll >= self.settings.beat_poll_interval
        if not (hinted or polled):
            return
        self._last_poll = time.monotonic()
        started = time.perf_counter()
        try:
            changes = beatreload.read_changes(self.engine, self.revision)
        except runstore.DatabaseError as exc:
            log.error("cannot read changes: %s", exc)
            return
        if changes is None:
            return
        if changes.full:
            self._reload_everything(now)
            return
        for name in changes.names:
            if not self._mine(name):
                continue
            if name in changes.pauses:
                self.core.pause(name, changes.pauses[name], now)
            elif name in self.core.paused:
                self.core.resume(name, now)
                log.info("schedule %r resumed", name)
            self._install(name, changes.rows.get(name), now)
            if name in self.core.paused:
                log.info("schedule %r paused: nothing of it is sent until it is resumed", name)
        log.info(
            "revision %d: reloaded %d changed schedules in %.1f ms",
            changes.latest,
            len(changes.names),
            (time.perf_counter() - started) * 1000,
        )
        self.revision = changes.latest

    def _reload_everything(self, now: datetime) -> None:
        """A change too large to reload by name: load everything again, as a handoff (every
        due time up to the last completed dispatch went out; those after it fire), never
        as a takeover, whose `catchup` would skip what fell due since that dispatch."""
        if self.shard_locks is None:
            self._reload_in_place(now)
            return
        held = sorted(self.shard_locks.held)
        self.core.clear()
        self.revision = None
        # Given back with a marker (everything up to the last dispatch went out), so
        # whoever takes them next, this beat included, loads them as a handoff.
        with contextlib.suppress(*_LOCK_ERRORS):
            self.shard_locks.give_back(held, self._dispatched_to)
        self.shard_locks.held.clear()

    def _reload_in_place(self, now: datetime) -> None:
        """One beat, one lock, kept: the beat hands its schedules over to itself."""
        started = time.perf_counter()
        try:
            loaded = beatreload.load_entries(self.engine, self.settings.timezone)
        except runstore.DatabaseError as exc:
            log.error("cannot reload schedules: %s", exc)  # the next poll tries again
            return
        self.core.clear()
        self.core.add(loaded.entries, now, loaded.pauses, handed_off=self._dispatched_to)
        self.revision = loaded.revision
        log.info(
            "revision %d changed too many schedules to reload by name: reloaded %d in %.0f ms",
            loaded.revision,
            len(self.core.entries),
            (time.perf_counter() - started) * 1000,
        )

    # --- dispatch -----------------------------------------------------------------------

    def _dispatch_due(self, now: datetime) -> None:
        self.publisher.flush_deferred(now)
        batch = self.core.pop_due(now)
        if not batch:
            return
        claims = [(run.name, run.due, task_id(run.name, run.due)) for run in batch]
        try:
            with self.engine.begin() as conn:
                won = runstore.claim(conn, claims, holder=self.lock.token, now=now)
        except runstore.DatabaseError as exc:
            self._claim_failed(batch, now, exc)
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
            self.publisher.send(mine, now)

    def _claim_failed(self, batch: list[Run], now: datetime, exc: Exception) -> None:
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
        self.publisher.send(batch, now, deferred=True)

    # --- recovery -----------------------------------------------------------------------

    def _recover(self, now: datetime) -> None:
        """Republish runs claimed and never published (beatrecover). On takeover, then
        every poll; this beat's own claims are all settled by the time it gets here."""
        if time.monotonic() - self._last_recover < self.settings.beat_poll_interval:
            return
        self._last_recover = time.monotonic()
        ttl = timedelta(seconds=self.settings.beat_lock_ttl)
        lost = beatrecover.unpublished_claims(self.engine, now, grace=ttl)
        if lost and self.shard_locks is not None:
            lost = [pair for pair in lost if self._mine(pair[0])]
        if not lost:
            return
        runs = beatrecover.to_republish(
            lost,
            self.core.entries,
            now,
            ttl,
            waiting={(r.name, r.due) for r in self.publisher.deferred},
            given_up=self._given_up,
        )
        if runs:
            # The same settled, lock-checked loop as a burst: thousands may be waiting.
            self.publisher.send(runs, now, recovered=True)

    # --- housekeeping -------------------------------------------------------------------

    def _housekeeping(self, now: datetime) -> None:
        try:
            self.lock.heartbeat(
                {
                    "holder": self.lock.token,
                    "time": now.isoformat(),
                    "revision": self.revision,
                    "schedules": len(self.core.entries),
                    "paused": len(self.core.paused),
                    **(
                        {"shards": sorted(self.shard_locks.held)}
                        if self.shard_locks is not None
                        else {}
                    ),
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
                removed = runstore.prune(conn, now=now, retention=retention)
                executions = runstore.prune_executions(
                    conn, before=now - timedelta(seconds=self.settings.once_retention)
                )
            if removed or executions:
                log.info(
                    "pruned %d dispatch ledger rows older than %s and %d execution marks",
                    removed,
                    retention,
                    executions,
                )
        except runstore.DatabaseError as exc:
            log.warning("cannot prune the dispatch ledger: %s", exc)

    def pending(self) -> Iterable[tuple[datetime, str]]:
        """(due, name) of everything queued, for `syncd status` and tests."""
        return self.core.pending()

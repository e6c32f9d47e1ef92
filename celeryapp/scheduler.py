"""The database beat: `celery -A celeryapp.app beat` (the app's default scheduler).

Each tick, in this order:

1. hold the lock (acquire, or renew by compare-and-set); a beat that cannot stops
   dispatching at once and stands by; a standby that wins it loads the whole table first;
2. notice changes: the Redis revision key every tick (an integer, never a clock), and the
   database revision every `beat_poll_interval` seconds, so a lost Redis write is never a
   lost change; reload only the rows the new revisions name;
3. pop every entry due at or before now, claim them in the dispatch ledger in one
   statement, publish only what this beat claimed, and write run state (last due time,
   run count) in one batched statement;
4. sleep until the next due time, at most `beat_max_interval`.

Celery's own heap and `is_due` machinery is not used: our heap holds (due instant, name)
so a tick costs O(due entries · log n), whatever the size of the table.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from celery.beat import Scheduler
from sqlalchemy import Engine, Table, bindparam, create_engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from celeryapp import ledger
from celeryapp.dueplan import (
    BadRow,
    Entry,
    entry_from_row,
    first_due,
    following,
    message_expiry,
    retry_due,
)
from celeryapp.lock import BeatLock, LeaseLock, RedisLock
from celeryapp.models import Revision, TaskSchedule, json_column_loads
from celeryapp.redact import redact_url
from celeryapp.schedules import task_id, to_utc
from celeryapp.settings import Settings, revision_key, sqlalchemy_url

log = logging.getLogger("celeryapp.beat")

table = cast(Table, TaskSchedule.__table__)
# What entry_from_row reads; descriptions, provenance and hashes stay in the database.
_ENTRY_COLUMNS = [
    table.c[name]
    for name in (
        "name", "task", "type", "crontab", "interval_every", "interval_period", "args",
        "kwargs", "queue", "exchange", "routing_key", "timezone", "start_time",
        "expire_time", "expire_seconds", "one_off", "enabled", "catchup", "catchup_window",
        "overlap", "created_time", "schedule_changed_time", "last_run_time",
    )
]  # fmt: skip
revisions = cast(Table, Revision.__table__)
# Reload everything instead of by name when a change names more rows than this.
_FULL_RELOAD_NAMES = 20_000
_PRUNE_EVERY = 3600.0


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
        self.entries: dict[str, Entry] = {}
        self.due_heap: list[tuple[datetime, str, int]] = []
        self.generation: dict[str, int] = {}
        self.revision: int | None = None
        self.leading = False
        self._last_poll = 0.0
        self._last_prune = 0.0
        self._retrying: set[str] = set()
        self._pubsub: Any = None
        self._deferred: list[tuple[Entry, datetime]] = []
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
        return self.entries

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
        now = self.clock()
        if not self._hold_lock(now):
            return min(self.max_interval, self.settings.beat_lock_ttl / 3)
        if not self.leading:
            if not self._load_all(now):
                return self.max_interval
            self.leading = True
        self._check_revision(now)
        self._dispatch_due(now)
        self._housekeeping(now)
        wait = self.max_interval
        if self.due_heap:
            wait = (self.due_heap[0][0] - to_utc(self.clock())).total_seconds()
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
        except (redis.RedisError, OSError) as exc:
            log.debug("revision channel unavailable (%s); sleeping instead", exc)
            self._close_pubsub()
            return wait
        return 0.0

    def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(redis.RedisError, OSError):
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
            log.warning("lost the beat lock to %s; standing by", self._safe_leader())
            self.leading = False
            self._forget()
        return held

    def _safe_leader(self) -> str:
        try:
            return self.lock.leader() or "nobody"
        except (redis.RedisError, SQLAlchemyError, OSError):
            return "an unknown beat"

    def _forget(self) -> None:
        self.entries.clear()
        self.due_heap.clear()
        self.generation.clear()
        self.revision = None

    # --- loading ------------------------------------------------------------------------

    def _current_revision(self, conn: Any) -> int:
        return int(conn.execute(select(func.coalesce(func.max(revisions.c.id), 0))).scalar())

    def _load_all(self, now: datetime) -> bool:
        """Load every enabled row (leader only, before its first dispatch)."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                revision = self._current_revision(conn)
                result = conn.execute(select(*_ENTRY_COLUMNS).where(table.c.enabled.is_(True)))
                keys = list(result.keys())
                self._forget()
                # Batches of fetchmany, rows zipped with the column names by position:
                # iterating the result fetched one row at a time and built a key view each.
                for batch in result.partitions(5000):
                    for values in batch:
                        self._install(dict(zip(keys, values, strict=True)), now)
        except SQLAlchemyError as exc:
            log.error(
                "cannot load schedules from %s: %s", redact_url(self.settings.database_url), exc
            )
            self._forget()
            return False
        self.revision = revision
        log.info(
            "leading: loaded %d schedules at revision %d in %.0f ms",
            len(self.entries),
            revision,
            (time.perf_counter() - started) * 1000,
        )
        return True

    def _install(self, row: dict[str, Any], now: datetime) -> None:
        name = str(row.get("name"))
        self.generation[name] = self.generation.get(name, 0) + 1
        self.entries.pop(name, None)
        if not row.get("enabled", True):
            return
        try:
            entry = entry_from_row(row, default_timezone=self.settings.timezone)
            decision = first_due(entry, now)
        except (BadRow, ValueError, OverflowError) as exc:
            log.error("schedule %r skipped: %s", name, exc)
            return
        self.entries[name] = entry
        gen = self.generation[name]
        if decision.fire_now is not None:
            heapq.heappush(self.due_heap, (to_utc(decision.fire_now), name, gen))
            if entry.one_off:
                return
        if decision.next_due is not None:
            heapq.heappush(self.due_heap, (to_utc(decision.next_due), name, gen))

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
            row = rows.get(name)
            if row is None:
                self.generation[name] = self.generation.get(name, 0) + 1
                self.entries.pop(name, None)
            else:
                self._install(row, now)
        log.info(
            "revision %d: reloaded %d changed schedules in %.1f ms",
            latest,
            len(names),
            (time.perf_counter() - started) * 1000,
        )
        self.revision = latest

    # --- dispatch -----------------------------------------------------------------------

    def _pop_due(self, now: datetime) -> list[tuple[Entry, datetime, int]]:
        due: list[tuple[Entry, datetime, int]] = []
        limit = to_utc(now)
        while self.due_heap and self.due_heap[0][0] <= limit:
            when, name, gen = heapq.heappop(self.due_heap)
            entry = self.entries.get(name)
            if entry is None or self.generation.get(name) != gen:
                continue  # replaced or removed since it was pushed
            if name in self._retrying:
                decision = retry_due(entry, when, now)
                if decision.fire_now is None:
                    if decision.next_due is not None:
                        heapq.heappush(self.due_heap, (to_utc(decision.next_due), name, gen))
                    continue
                when = to_utc(decision.fire_now)
            due.append((entry, when, gen))
        return due

    def _dispatch_due(self, now: datetime) -> None:
        self._flush_deferred(now)
        batch = self._pop_due(now)
        if not batch:
            return
        claims = [(e.name, when, task_id(e.name, when)) for e, when, _ in batch]
        deferred = False
        try:
            with self.engine.begin() as conn:
                won = ledger.claim(conn, claims, holder=self.lock.token, now=now)
        except SQLAlchemyError as exc:
            if not isinstance(self.lock, RedisLock):
                # Without Redis the lease itself lives in the database: no proof of
                # leadership, so nothing is sent.
                log.error("cannot claim %d due runs (database: %s); retrying", len(batch), exc)
                for entry, when, gen in batch:
                    heapq.heappush(self.due_heap, (when, entry.name, gen))
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
            won = {(e.name, when) for e, when, _ in batch}
            deferred = True
        sent: list[tuple[Entry, datetime]] = []
        failed: list[tuple[Entry, datetime, int]] = []
        with self.app.producer_or_acquire() as producer:
            self._publish_all(batch, won, producer, sent, failed)
        if deferred:
            self._deferred.extend(sent)
            for entry, when, gen in failed:
                heapq.heappush(self.due_heap, (when, entry.name, gen))
        else:
            self._record(sent, failed)
        if sent:
            names = ", ".join(task_id(e.name, when) for e, when in sent[:5])
            more = f" and {len(sent) - 5} more" if len(sent) > 5 else ""
            log.info("sent %d due run(s): %s%s", len(sent), names, more)

    def _flush_deferred(self, now: datetime) -> None:
        """Write the claims and run state of runs sent while the database was away."""
        if not self._deferred:
            return
        pending = list(self._deferred)
        try:
            with self.engine.begin() as conn:
                ledger.claim(
                    conn,
                    [(e.name, when, task_id(e.name, when)) for e, when in pending],
                    holder=self.lock.token,
                    now=now,
                )
                self._write_run_state(conn, pending)
        except SQLAlchemyError:
            return
        del self._deferred[: len(pending)]
        log.info("database is back: recorded %d run(s) sent while it was away", len(pending))

    def _publish_all(
        self,
        batch: list[tuple[Entry, datetime, int]],
        won: set[tuple[str, datetime]],
        producer: Any,
        sent: list[tuple[Entry, datetime]],
        failed: list[tuple[Entry, datetime, int]],
    ) -> None:
        for entry, when, gen in batch:
            if (entry.name, when) not in won:
                log.info(
                    "%s@%s was already claimed; not sending it again", entry.name, when.isoformat()
                )
                self._advance(entry, when, gen)
                continue
            try:
                self._publish(entry, when, producer)
            except Exception as exc:  # noqa: BLE001 - the broker's errors are many; all retry
                if entry.name not in self._retrying:
                    log.error("cannot publish %s (%s); will retry", entry.name, exc)
                self._retrying.add(entry.name)
                failed.append((entry, when, gen))
                continue
            self._retrying.discard(entry.name)
            sent.append((entry, when))
            self._advance(entry, when, gen)

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
            },
            producer=producer,
            **options,
        )
        log.debug("sent %s -> %s", tid, entry.task)

    def _advance(self, entry: Entry, due: datetime, gen: int) -> None:
        if entry.one_off:
            self.entries[entry.name] = replace(entry, has_run=True)
            return
        nxt = following(entry, due)
        if nxt is not None:
            heapq.heappush(self.due_heap, (to_utc(nxt), entry.name, gen))

    def _record(
        self, sent: list[tuple[Entry, datetime]], failed: list[tuple[Entry, datetime, int]]
    ) -> None:
        """Persist run state of what was sent (one batched statement), and give back the
        claims of what could not be published so the next tick can try again."""
        try:
            with self.engine.begin() as conn:
                if failed:
                    ledger.release(conn, [(e.name, when) for e, when, _ in failed])
                if sent:
                    self._write_run_state(conn, sent)
        except SQLAlchemyError as exc:
            # Runs were sent and the ledger holds their claims, so nothing repeats; the run
            # state is written again with the next successful tick.
            log.error("cannot write run state for %d runs: %s", len(sent), exc)
            self._deferred.extend(sent)
        for entry, when, gen in failed:
            heapq.heappush(self.due_heap, (when, entry.name, gen))

    def _write_run_state(self, conn: Any, sent: list[tuple[Entry, datetime]]) -> None:
        """last_run_time = the due time, run count + 1, for every run sent: one statement."""
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"UPDATE {table.name} AS s SET last_run_time = u.due, "  # noqa: S608 - our table name
                "total_run_count = s.total_run_count + u.n "
                "FROM (SELECT name, max(due) AS due, count(*) AS n FROM "
                "unnest(%(names)s::text[], %(dues)s::timestamptz[]) AS x(name, due) "
                "GROUP BY name) AS u "
                "WHERE s.name = u.name AND (s.last_run_time IS NULL OR s.last_run_time < u.due)",
                {"names": [e.name for e, _ in sent], "dues": [when for _, when in sent]},
            )
            return
        conn.execute(
            update(table)
            .where(table.c.name == bindparam("b_name"))
            .where(table.c.last_run_time.is_(None) | (table.c.last_run_time < bindparam("b_due")))
            .values(last_run_time=bindparam("b_due"), total_run_count=table.c.total_run_count + 1),
            [{"b_name": e.name, "b_due": when} for e, when in sent],
        )

    # --- housekeeping -------------------------------------------------------------------

    def _housekeeping(self, now: datetime) -> None:
        try:
            self.lock.heartbeat(
                {
                    "holder": self.lock.token,
                    "time": now.isoformat(),
                    "revision": self.revision,
                    "schedules": len(self.entries),
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
            if removed:
                log.info("pruned %d dispatch ledger rows older than %s", removed, retention)
        except SQLAlchemyError as exc:
            log.warning("cannot prune the dispatch ledger: %s", exc)

    def pending(self) -> Iterable[tuple[datetime, str]]:
        """(due, name) of everything queued, for `syncd status` and tests."""
        return sorted(
            (when, name) for when, name, gen in self.due_heap if self.generation.get(name) == gen
        )

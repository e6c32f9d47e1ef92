"""Once-only execution: a beat task id (`NAME@DUE`) runs at most once, whatever the broker does.

The beat claims each (schedule, due time) in its ledger before publishing, so it never
sends one twice; this guard covers the other half: a message delivered twice (a broker
redelivery, a visibility timeout on the Redis transport, a replayed queue).

Where: in the worker's Request, before the message reaches the pool. A check inside the
task body would come too late: with `task_track_started` Celery writes STARTED for the
duplicate before the body runs, and then SUCCESS with the duplicate's return value, over the
original run's result. Here a duplicate is acknowledged and dropped before Celery records
anything, so the result table keeps the run that really happened.

How: with Redis, `SET {prefix}:executed:{task_id} NX EX <SYNCD_ONCE_RETENTION>`; the first delivery
wins. Without Redis, the same on the database: `INSERT` into `syncd_execution` keyed by the
task id, `ON CONFLICT DO NOTHING`; the first delivery's row wins, so two copies arriving at
the same instant cannot both pass (the result backend's PENDING/STARTED could not promise
that). The beat prunes those rows after SYNCD_ONCE_RETENTION. Retries of a task
(`self.retry`, same id, `retries > 0`) are the same run and are not blocked. Runs triggered
by hand (`syncd trigger`) carry unique ids and are not checked. If Redis (or, without it,
the database) cannot be reached the run goes ahead (logged): the ledger already prevented
duplicate dispatch, and an outage must not stop every scheduled task.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from celery.worker.request import Request
from celery.worker.state import reserved_requests, task_ready

from celeryapp import runstore
from celeryapp.clients import shared_client
from celeryapp.settings import Settings, executed_key
from celeryapp.tasklog import RunInfo, schedule_logger

logger = logging.getLogger(__name__)


def claim_execution(client: redis.Redis[bytes], prefix: str, task_id: str, retention: int) -> bool:
    """True for the first claim of this task id within `retention` seconds."""
    key = executed_key(prefix, task_id)
    return bool(client.set(key, "1", nx=True, ex=max(1, retention)))


def claim_execution_in_database(url: str, task_id: str, now: datetime) -> bool:
    """True for the first claim of this task id (until the beat prunes it)."""
    with runstore.shared_engine(url).begin() as conn:
        return runstore.claim_execution(conn, task_id, now)


def settings_of(app: Any) -> Settings:
    settings = getattr(app, "syncd_settings", None)
    return settings if isinstance(settings, Settings) else Settings.from_env()


def should_execute(run: RunInfo, task_id: str, retries: int, settings: Settings) -> bool:
    """The once-only decision for one delivery of a message."""
    if not run.is_beat_run or retries > 0:
        return True
    log = schedule_logger(run, logger)
    if settings.redis_url:
        try:
            return claim_execution(
                shared_client(settings.redis_url),
                settings.redis_prefix,
                task_id,
                settings.once_retention,
            )
        except redis.RedisError as exc:
            log.warning("once-only check skipped for %s, Redis failed: %s", task_id, exc)
            return True
    try:
        return claim_execution_in_database(settings.database_url, task_id, datetime.now(UTC))
    except runstore.DatabaseError as exc:
        log.warning(
            "once-only check skipped for %s, the database failed (migrated? `syncd migrate`): %s",
            task_id,
            exc,
        )
        return True


class OnceOnlyRequest(Request):  # type: ignore[misc]
    """A worker Request that drops a second delivery of a beat task id.

    Celery asks `revoked()` just before it hands a request to the pool, and, for messages
    with an expiry, also on receipt. The claim is made only in the first case (the request
    is reserved by then): a message prefetched and claimed on receipt, then handed back to
    the broker by a worker shutdown, would otherwise be dropped as a duplicate of a run that
    never happened. The decision is remembered per request.
    """

    _syncd_duplicate: bool | None = None

    def revoked(self) -> bool:
        if super().revoked():
            return True
        if self not in reserved_requests:
            return False
        if self._syncd_duplicate is None:
            self._syncd_duplicate = self._is_duplicate()
            if self._syncd_duplicate:
                self._drop()
        return self._syncd_duplicate

    def _is_duplicate(self) -> bool:
        headers = self._request_dict
        run = RunInfo.from_headers(headers)
        retries = int(headers.get("retries") or 0)
        return not should_execute(run, self.id, retries, settings_of(self.task.app))

    def _drop(self) -> None:
        run = RunInfo.from_headers(self._request_dict)
        schedule_logger(run, logger).warning(
            "skipped duplicate delivery of %s: this due time already ran", self.id
        )
        task_ready(self)
        self.acknowledge()

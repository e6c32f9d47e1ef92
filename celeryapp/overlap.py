"""`overlap: skip`: a run is dropped while the previous run of the same schedule executes.

The running run holds `{prefix}:running:{schedule}` (SET NX PX with a random token). A
refresher extends the TTL while the body runs, so a long run keeps its claim, and a worker
killed mid-run frees the schedule within one TTL. Release and refresh compare the token
first (Lua), so a run that lost its key (TTL passed during a stall) never deletes the key of
the run that took over.

Without Redis there is no shared place to hold the claim: the guard is skipped with a
warning, once per process (docs/worker.md).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from celeryapp.clients import IF_HOLDER_DEL, IF_HOLDER_PEXPIRE

DEFAULT_TTL = 60.0

logger = logging.getLogger(__name__)
_warned_no_redis = threading.Event()


class OverlapGuard:
    """Holds one schedule's running key for the duration of a run."""

    def __init__(self, client: redis.Redis[bytes], key: str, ttl: float = DEFAULT_TTL) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = max(1, int(ttl * 1000))
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    def acquire(self) -> bool:
        acquired = bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        if acquired:
            # Under gevent's monkey-patching this thread is a greenlet: cheap, cooperative.
            self._refresher = threading.Thread(
                target=self._refresh_loop, name=f"overlap-refresh:{self.key}", daemon=True
            )
            self._refresher.start()
        return acquired

    def refresh(self) -> bool:
        result = self.client.eval(  # type: ignore[no-untyped-call]
            IF_HOLDER_PEXPIRE, 1, self.key, self.token, self.ttl_ms
        )
        return bool(result)

    def release(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
        try:
            self.client.eval(IF_HOLDER_DEL, 1, self.key, self.token)  # type: ignore[no-untyped-call]
        except redis.RedisError:
            # The TTL frees the key; a failed release must not fail a finished run.
            logger.warning("could not release %s; it expires on its own", self.key)

    def _refresh_loop(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                if not self.refresh():
                    logger.warning("lost %s while running (TTL passed during a stall)", self.key)
                    return
            except redis.RedisError as exc:
                logger.warning("could not refresh %s: %s", self.key, exc)


@contextmanager
def overlap_guard(
    client: redis.Redis[bytes] | None, key: str, ttl: float = DEFAULT_TTL
) -> Iterator[bool]:
    """Yields True when this run may proceed (it holds the key, or there is no Redis)."""
    if client is None:
        if not _warned_no_redis.is_set():
            _warned_no_redis.set()
            logger.warning("overlap: skip is not enforced: it needs Redis (set SYNCD_REDIS_URL)")
        yield True
        return
    guard = OverlapGuard(client, key, ttl)
    if not guard.acquire():
        yield False
        return
    try:
        yield True
    finally:
        guard.release()

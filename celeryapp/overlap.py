"""`overlap: skip` and `buffer_one`: what a run does while the previous run of the same
schedule executes. `skip` drops it; `buffer_one` keeps one (it waits in the worker and
starts the moment the running one ends) and drops any further run due meanwhile.

The running run holds `{prefix}:running:{schedule}` (SET NX PX with a random token). A
refresher extends the TTL while the body runs, so a long run keeps its claim, and a worker
killed mid-run frees the schedule within one TTL. Release and refresh compare the token
first (Lua), so a run that lost its key (TTL passed during a stall) never deletes the key of
the run that took over.

`buffer_one` adds `{prefix}:buffered:{schedule}`, the claim of the one waiting run, and
decides with two scripts, so no interleaving of workers can break "one running, at most one
waiting": ADMIT (a run arrives: run if nothing runs or waits; wait if one runs and none
waits; else drop — a run arriving while one waits is dropped even when the running one has
just ended, since the waiting one starts first) and PROMOTE (the waiting run takes the
running key and gives up the buffer key in one step, so the next run due can be buffered at
once). The waiting run polls PROMOTE every `poll` seconds, which also renews its claim: a
worker killed while waiting frees the buffer within one TTL. The wait holds a worker slot:
a greenlet under `-P gevent`, a whole process under prefork (docs/worker.md).

Without Redis there is no shared place to hold the claim: the guard is skipped with a
warning, once per process (docs/worker.md).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from celeryapp.clients import IF_HOLDER_DEL, IF_HOLDER_PEXPIRE

DEFAULT_TTL = 60.0
# How often a buffered run looks whether the running one has ended.
DEFAULT_POLL = 0.1

# KEYS[1] running, KEYS[2] buffered; ARGV[1] token, ARGV[2] TTL in ms.
# 1: run now (holds KEYS[1]); 2: buffered (holds KEYS[2]); 0: drop.
ADMIT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 2
"""
# 1: promoted (holds KEYS[1], KEYS[2] released); 0: still waiting (KEYS[2] renewed);
# -1: the buffer claim was lost (its TTL passed during a stall).
PROMOTE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return -1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0
"""
RUN, BUFFERED, DROP = 1, 2, 0

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
            self._start_refresher()
        return acquired

    def admit(self, buffered: str) -> int:
        """`buffer_one`: RUN (this run holds the key), BUFFERED (it is the one waiting
        run; call `wait_turn`) or DROP."""
        verdict = int(self.client.eval(ADMIT, 2, self.key, buffered, self.token, self.ttl_ms))  # type: ignore[no-untyped-call]
        if verdict == RUN:
            self._start_refresher()
        return verdict

    def wait_turn(self, buffered: str, poll: float = DEFAULT_POLL) -> bool:
        """Wait as the buffered run until the running one ends, then hold the key (True);
        False if the buffer claim was lost meanwhile (the run is dropped)."""
        while True:
            try:
                verdict = int(
                    self.client.eval(PROMOTE, 2, self.key, buffered, self.token, self.ttl_ms)  # type: ignore[no-untyped-call]
                )
            except redis.RedisError as exc:
                logger.warning("could not check %s while waiting: %s", self.key, exc)
                verdict = 0
            if verdict == 1:
                self._start_refresher()
                return True
            if verdict == -1:
                logger.warning("lost %s while waiting (TTL passed during a stall)", buffered)
                return False
            time.sleep(poll)

    def _start_refresher(self) -> None:
        # Under gevent's monkey-patching this thread is a greenlet: cheap, cooperative.
        self._refresher = threading.Thread(
            target=self._refresh_loop, name=f"overlap-refresh:{self.key}", daemon=True
        )
        self._refresher.start()

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
        _warn_no_redis()
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


@contextmanager
def buffer_one_guard(
    client: redis.Redis[bytes] | None,
    key: str,
    buffered: str,
    ttl: float = DEFAULT_TTL,
    poll: float = DEFAULT_POLL,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[bool]:
    """`overlap: buffer_one`: yields True when this run may proceed (at once, or after
    waiting for the running one as the one buffered run; `on_wait` is called when it
    starts waiting), False when it is dropped."""
    if client is None:
        _warn_no_redis()
        yield True
        return
    guard = OverlapGuard(client, key, ttl)
    verdict = guard.admit(buffered)
    if verdict == BUFFERED:
        if on_wait is not None:
            on_wait()
        verdict = RUN if guard.wait_turn(buffered, poll) else DROP
    if verdict != RUN:
        yield False
        return
    try:
        yield True
    finally:
        guard.release()


def _warn_no_redis() -> None:
    if not _warned_no_redis.is_set():
        _warned_no_redis.set()
        logger.warning(
            "overlap: skip and buffer_one are not enforced: they need Redis (set SYNCD_REDIS_URL)"
        )

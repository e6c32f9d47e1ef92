"""The beat lock: one leader at a time, on Redis or (without Redis) on a database lease row.

Protocol (the same on both): acquire with a random token and a TTL; renew by
compare-and-set every tick; a leader whose renewal fails stops dispatching at once and
goes back to standby; release by compare-and-delete on clean shutdown, after the last
run-state write. The TTL must exceed the tick interval, so a healthy leader never lapses.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import redis

from celeryapp import runstore
from celeryapp.clients import IF_HOLDER_DEL, IF_HOLDER_PEXPIRE
from celeryapp.settings import heartbeat_key, lock_key

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)


def new_token() -> str:
    return f"{socket.gethostname()}:{secrets.token_hex(8)}"


class BeatLock(Protocol):
    token: str

    def hold(self, now: datetime) -> bool:
        """Acquire (when free) or renew (when ours); False when another beat leads."""

    def release(self) -> None: ...

    def leader(self) -> str | None: ...

    def heartbeat(self, payload: dict[str, Any], now: datetime) -> None: ...


class RedisLock:
    def __init__(self, client: redis.Redis[bytes], prefix: str, ttl: float) -> None:
        self.client = client
        self.key = lock_key(prefix)
        self.heartbeat_key = heartbeat_key(prefix)
        self.ttl_ms = int(ttl * 1000)
        self.token = new_token()
        self._renew = client.register_script(IF_HOLDER_PEXPIRE)
        self._release = client.register_script(IF_HOLDER_DEL)

    def hold(self, now: datetime) -> bool:
        if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            return True
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])

    def leader(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value is not None else None

    def heartbeat(self, payload: dict[str, Any], now: datetime) -> None:
        self.client.set(self.heartbeat_key, json.dumps(payload), px=self.ttl_ms * 3)


class LeaseLock:
    """The same protocol on `syncd_beat_lease`: the row's holder is the token; a lease whose
    expiry passed may be taken by anyone. Times come from the beats' clocks, so they must
    be roughly in sync (NTP); the dispatch ledger keeps runs once-only regardless."""

    NAME = "beat"

    def __init__(self, engine: Engine, ttl: float) -> None:
        self.engine = engine
        self.ttl = timedelta(seconds=ttl)
        self.token = new_token()

    def hold(self, now: datetime) -> bool:
        with self.engine.begin() as conn:
            return runstore.hold_lease(conn, self.NAME, self.token, now=now, ttl=self.ttl)

    def release(self) -> None:
        with self.engine.begin() as conn:
            runstore.release_lease(conn, self.NAME, self.token)

    def leader(self) -> str | None:
        with self.engine.connect() as conn:
            return runstore.lease_holder(conn, self.NAME)

    def heartbeat(self, payload: dict[str, Any], now: datetime) -> None:
        """The lease row's heartbeat_time is written by every renewal already."""

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
from celeryapp.clients import (
    IF_HOLDER_DEL,
    IF_HOLDER_HAND_OFF,
    IF_HOLDER_PEXPIRE,
    IF_HOLDER_PEXPIRE_ALL,
)
from celeryapp.settings import beats_key, handoff_key, heartbeat_key, lock_key

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
    def __init__(
        self, client: redis.Redis[bytes], prefix: str, ttl: float, *, token: str | None = None
    ) -> None:
        self.client = client
        self.key = lock_key(prefix)
        self.heartbeat_key = heartbeat_key(prefix)
        self.ttl_ms = int(ttl * 1000)
        self.token = token or new_token()
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


# A handoff marker outlives the release by this many lock TTLs at most: a shard taken
# later than that is a takeover (its missed runs follow `catchup`), not a handoff.
HANDOFF_TTLS = 10


class ShardLocks(RedisLock):
    """The same protocol, once per shard (`SYNCD_BEAT_SHARDS=N` > 1): the lock of shard i
    is `{prefix}:beat:lock:{N}:{i}`, held with this beat's one token (its id, also the
    ledger's holder). Renewal is one compare-and-set script over every held key, so a tick
    costs one round trip whatever N is. The beats find each other in the sorted set
    `{prefix}:beat:beats:{N}`, scored by their last heartbeat; one older than the TTL is
    dead. `hold` (the publisher's mid-burst check) renews every held shard and is False
    when any of them was lost."""

    def __init__(self, client: redis.Redis[bytes], prefix: str, ttl: float, shards: int) -> None:
        super().__init__(client, prefix, ttl)
        self.shards = shards
        self.prefix = prefix
        self.ttl = ttl
        self.keys = [lock_key(prefix, shards, i) for i in range(shards)]
        self.beats_key = beats_key(prefix, shards)
        self.held: set[int] = set()
        self._renew_all = client.register_script(IF_HOLDER_PEXPIRE_ALL)
        self._hand_off = client.register_script(IF_HOLDER_HAND_OFF)

    # --- the live beats -----------------------------------------------------------------

    def live(self, now: datetime) -> list[str]:
        """Heartbeat this beat and return the live beats' ids, sorted (this one included)."""
        at = now.timestamp()
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self.beats_key, {self.token: at})
        pipe.zremrangebyscore(self.beats_key, "-inf", f"({at - self.ttl}")
        pipe.zrange(self.beats_key, 0, -1)
        pipe.pexpire(self.beats_key, self.ttl_ms * HANDOFF_TTLS)
        members = pipe.execute()[2]
        return sorted({m.decode() for m in members} | {self.token})

    def leave(self) -> None:
        self.client.zrem(self.beats_key, self.token)

    # --- the shard locks ----------------------------------------------------------------

    def renew(self) -> set[int]:
        """Renew every held shard (taking back one that lapsed while nobody took it, as
        `RedisLock.hold` does: a load longer than the TTL); the shards another beat took
        leave `held`."""
        if not self.held:
            return set()
        order = sorted(self.held)
        got = self._renew_all(keys=[self.keys[i] for i in order], args=[self.token, self.ttl_ms])
        lost = {i for i, ok in zip(order, got, strict=True) if not ok}
        self.held -= lost
        return lost

    def holders(self) -> list[str | None]:
        """Who holds each shard (None: free)."""
        return [v.decode() if v is not None else None for v in self.client.mget(self.keys)]

    def acquire(self, shards: list[int]) -> set[int]:
        """Take each of `shards` that is still free; the ones won join `held`."""
        if not shards:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for i in shards:
            pipe.set(self.keys[i], self.token, nx=True, px=self.ttl_ms)
        won = {i for i, ok in zip(shards, pipe.execute(), strict=True) if ok}
        self.held |= won
        return won

    def give_back(self, shards: list[int], dispatched_to: datetime | None) -> None:
        """Release `shards` (those still ours); with `dispatched_to`, leave a handoff
        marker saying every due time up to that instant was dispatched."""
        value = dispatched_to.isoformat() if dispatched_to is not None else ""
        for i in shards:
            self._hand_off(
                keys=[self.keys[i], handoff_key(self.prefix, self.shards, i)],
                args=[self.token, value, self.ttl_ms * HANDOFF_TTLS],
            )
            self.held.discard(i)

    def handoff(self, shard: int) -> datetime | None:
        """The instant up to which the beat that gave `shard` back dispatched (None: no
        marker, so this is a takeover)."""
        raw = self.client.get(handoff_key(self.prefix, self.shards, shard))
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw.decode())
        except ValueError:
            return None

    def handoff_done(self, shards: list[int]) -> None:
        """The markers of `shards` were used: a later takeover must not read them."""
        if shards:
            self.client.delete(*(handoff_key(self.prefix, self.shards, i) for i in shards))

    # --- the BeatLock protocol ----------------------------------------------------------

    def hold(self, now: datetime) -> bool:
        return not self.renew()

    def release(self) -> None:
        self.give_back(sorted(self.held), None)

    def leader(self) -> str | None:
        return ", ".join(f"{i}={h or '-'}" for i, h in enumerate(self.holders()))

"""Sharded beats: which shard a schedule is in, and which shards a beat should lead.

Pure: no I/O, no clock. `SYNCD_BEAT_SHARDS=N` splits the table into N shards by a stable
hash of the name (`shard_of`: CRC-32 of the UTF-8 name, the same in every process and
Python version, unlike `hash()`, which is salted per process). Each shard has its own
lock (celeryapp.lock.ShardLocks); every beat runs the same command, and each tick asks
`plan` what to take and what to give back, so that each live beat leads at most
`quota(N, live)` = ceil(N / live) shards and every shard is led.

`plan` is asked by every beat with what it sees: its own id, the live beats (from their
heartbeats), the shards it holds and the shards no beat holds. It never takes a shard
another beat holds: a beat over its quota gives shards back (with a handoff marker,
see docs/beat.md), and the beats under theirs take them at their next tick.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def shard_key(name: str) -> int:
    """The stable hash of `name` its shard is taken from (stored with each row as
    `shard_key`, so that the database can pick a shard's rows)."""
    return zlib.crc32(name.encode("utf-8"))


def shard_of(name: str, shards: int) -> int:
    """The shard of schedule `name` among `shards` (0 when there is one)."""
    if shards <= 1:
        return 0
    return shard_key(name) % shards


@dataclass(frozen=True)
class Keeper:
    """The `wanted` shards among `shards`: called with a name, whether it is in one of
    them (`shard_of(name, shards) in wanted`); the database is asked the same of a row's
    stored `shard_key` (`shard_key % shards`)."""

    shards: int
    wanted: frozenset[int]

    def __call__(self, name: str) -> bool:
        return shard_of(name, self.shards) in self.wanted


def keeper(shards: int, wanted: Iterable[int]) -> Keeper:
    """A `Keeper` of the `wanted` shards among `shards`."""
    return Keeper(shards, frozenset(wanted))


def quota(shards: int, live: int) -> int:
    """The most shards one of `live` beats leads: ceil(shards / live)."""
    return math.ceil(shards / max(live, 1))


def preference(shards: int, me: str, live: Sequence[str]) -> list[int]:
    """Every shard, in the order beat `me` prefers them: its *home* shards first (the
    `quota` shards starting at its rank times the quota), then the rest in turn. Beats
    that see the same live set prefer disjoint home shards, so they rarely race for one
    and a beat gives back the shards another beat calls home."""
    ranked = sorted(set(live) | {me})
    share = quota(shards, len(ranked))
    start = (ranked.index(me) * share) % shards if shards else 0
    return [(start + k) % shards for k in range(shards)]


@dataclass(frozen=True)
class Plan:
    """What one beat does this tick: take the `acquire` shards (if still free) and give
    back the `release` ones (after this tick's dispatch)."""

    acquire: tuple[int, ...]
    release: tuple[int, ...]


def plan(
    shards: int, me: str, live: Sequence[str], held: Iterable[int], free: Iterable[int]
) -> Plan:
    """Which free shards beat `me` takes and which of its own it gives back.

    `live`: the ids of the beats alive now (`me` counts even when its own heartbeat is not
    in yet); `held`: the shards `me` leads; `free`: the shards nobody leads. A beat over
    its quota gives back the shards it prefers least; one under it takes the free shards
    it prefers most, up to the quota."""
    held_set = {i for i in held if 0 <= i < shards}
    free_set = {i for i in free if 0 <= i < shards} - held_set
    order = preference(shards, me, live)
    share = quota(shards, len(set(live) | {me}))
    mine = [i for i in order if i in held_set]
    if len(mine) > share:
        return Plan((), tuple(sorted(mine[share:])))
    room = share - len(mine)
    take = [i for i in order if i in free_set][:room]
    return Plan(tuple(sorted(take)), ())


__all__ = ["Plan", "keeper", "plan", "preference", "quota", "shard_of"]

"""Sharded beats' pure decisions (celeryapp.shards): the stable hash, the quota, and the
plan every beat follows, checked by hypothesis and as a state machine of beats that
start, die and tick in any order."""

from __future__ import annotations

import subprocess
import sys
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from celeryapp.shards import keeper, plan, preference, quota, shard_of

NAMES = st.text(min_size=1, max_size=40)
SHARDS = st.integers(1, 16)
BEATS = st.lists(
    st.text("abcdef0123456789:", min_size=1, max_size=8), min_size=1, max_size=6, unique=True
)


@given(NAMES, SHARDS)
def test_shard_is_in_range_and_crc32(name: str, n: int) -> None:
    shard = shard_of(name, n)
    assert 0 <= shard < n
    assert shard == (zlib.crc32(name.encode()) % n if n > 1 else 0)


@given(st.lists(NAMES, max_size=20), SHARDS, st.sets(st.integers(-1, 17)))
def test_keeper_keeps_the_names_of_the_wanted_shards(
    names: list[str], n: int, wanted: set[int]
) -> None:
    keep = keeper(n, wanted)
    assert [keep(name) for name in names] == [shard_of(name, n) in wanted for name in names]


def test_shard_is_stable_across_processes() -> None:
    """hash() is salted per process; the shard must not be."""
    code = (
        "from celeryapp.shards import shard_of; print([shard_of(f'job-{i}', 7) for i in range(50)])"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(runs) == 1
    assert runs.pop().strip() == str([shard_of(f"job-{i}", 7) for i in range(50)])


def test_known_values() -> None:
    # Pinned: a change here moves every schedule of every running fleet to another shard.
    assert [shard_of(n, 4) for n in ("a", "nightly-report", "ü")] == [
        zlib.crc32(b"a") % 4,
        zlib.crc32(b"nightly-report") % 4,
        zlib.crc32("ü".encode()) % 4,
    ]
    assert shard_of("a", 4) == 3


@given(SHARDS, st.integers(1, 20))
def test_quotas_cover_every_shard_and_are_the_ceiling(n: int, live: int) -> None:
    q = quota(n, live)
    assert q * live >= n
    assert (q - 1) * live < n


@given(SHARDS, BEATS, st.data())
def test_plan_never_exceeds_quota_nor_takes_held(
    n: int, beats: list[str], data: st.DataObject
) -> None:
    me = data.draw(st.sampled_from(beats))
    held = data.draw(st.sets(st.integers(0, n - 1)))
    free = data.draw(st.sets(st.integers(0, n - 1))) - held
    p = plan(n, me, sorted(beats), held, free)
    q = quota(n, len(beats))
    assert set(p.acquire) <= free
    assert set(p.release) <= held
    assert not (p.acquire and p.release)
    assert len(held) - len(p.release) + len(p.acquire) <= q
    if len(held) > q:
        assert len(held) - len(p.release) == q
    elif len(held) < q:
        assert len(p.acquire) == min(q - len(held), len(free))


@given(SHARDS, BEATS)
def test_preference_is_a_permutation(n: int, beats: list[str]) -> None:
    for me in beats:
        assert sorted(preference(n, me, beats)) == list(range(n))


@settings(max_examples=200)
@given(SHARDS, BEATS, st.randoms(use_true_random=False))
def test_plan_converges_from_any_start(n: int, beats: list[str], rnd: object) -> None:
    """Whoever holds what, a few rounds of every live beat following its plan (in any
    order) leave every shard led exactly once and nobody over its quota."""
    import random

    assert isinstance(rnd, random.Random)
    owner: dict[int, str] = {i: rnd.choice(beats) for i in range(n) if rnd.random() < 0.7}
    for _ in range(3):
        order = list(beats)
        rnd.shuffle(order)
        for me in order:
            _step(n, me, beats, owner)
    _assert_converged(n, beats, owner)


def _step(n: int, me: str, live: list[str], owner: dict[int, str]) -> None:
    held = {i for i, b in owner.items() if b == me}
    free = set(range(n)) - set(owner)
    p = plan(n, me, sorted(live), held, free)
    for i in p.acquire:
        owner[i] = me
    for i in p.release:
        del owner[i]


def _assert_converged(n: int, live: list[str], owner: dict[int, str]) -> None:
    assert sorted(owner) == list(range(n))
    q = quota(n, len(live))
    for beat in set(owner.values()):
        assert beat in live
        assert sum(1 for b in owner.values() if b == beat) <= q


class Fleet(RuleBasedStateMachine):
    """Beats start, die (their locks expire: their shards become free) and tick in any
    order; two rounds in which every live beat ticks (in any order) leave every shard led,
    by a live beat, within quota; and a beat never holds a shard another holds."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 4
        self.live: list[str] = []
        self.owner: dict[int, str] = {}
        self.serial = 0

    @rule(n=st.integers(1, 9))
    @precondition(lambda self: not self.live)
    def configure(self, n: int) -> None:
        self.n = n

    @rule()
    @precondition(lambda self: len(self.live) < 5)
    def start(self) -> None:
        self.serial += 1
        self.live.append(f"beat-{self.serial}")

    @rule(data=st.data())
    @precondition(lambda self: self.live)
    def kill(self, data: st.DataObject) -> None:
        dead = data.draw(st.sampled_from(self.live))
        self.live.remove(dead)
        self.owner = {i: b for i, b in self.owner.items() if b != dead}

    @rule(data=st.data())
    @precondition(lambda self: self.live)
    def tick(self, data: st.DataObject) -> None:
        _step(self.n, data.draw(st.sampled_from(self.live)), self.live, self.owner)

    @rule(data=st.data())
    @precondition(lambda self: self.live)
    def two_rounds(self, data: st.DataObject) -> None:
        for _ in range(2):
            for me in data.draw(st.permutations(self.live)):
                _step(self.n, me, self.live, self.owner)
        _assert_converged(self.n, self.live, self.owner)

    @invariant()
    def only_live_beats_lead(self) -> None:
        assert set(self.owner.values()) <= set(self.live)


TestFleet = Fleet.TestCase

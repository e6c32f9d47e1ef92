"""Sharded beats in-process against the real Redis (a unique prefix): the shard locks and
the live-beat set, and two DatabaseSchedulers on one table handing shards over and taking
them over, with the clock passed in. Messages are counted on the embedded filesystem
broker, per task id."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine

from celeryapp import beatreload, runstore
from celeryapp.app import make_app
from celeryapp.lock import RedisLock, ShardLocks
from celeryapp.scheduler import DatabaseScheduler
from celeryapp.schedules import task_id
from celeryapp.settings import Settings
from celeryapp.shards import shard_of
from syncd import store
from syncd.store.writes import RevisionInfo, insert_revision
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
NAMES = [f"job-{i}" for i in range(12)]


@pytest.fixture
def client() -> Iterator[redis.Redis[bytes]]:
    c: redis.Redis[bytes] = redis.Redis.from_url(REDIS_URL)
    yield c
    c.close()


def test_shard_locks_take_renew_give_back_with_marker(
    client: redis.Redis[bytes], redis_prefix: str
) -> None:
    a = ShardLocks(client, redis_prefix, 3.0, 4)
    b = ShardLocks(client, redis_prefix, 3.0, 4)
    assert a.acquire([0, 1, 2]) == {0, 1, 2}
    assert b.acquire([2, 3]) == {3}
    assert a.holders() == [a.token, a.token, a.token, b.token]
    assert client.pttl(f"{redis_prefix}:beat:lock:4:0") > 2000
    client.delete(f"{redis_prefix}:beat:lock:4:0")  # lapsed (a long load), nobody took it
    client.set(f"{redis_prefix}:beat:lock:4:1", "another-beat")  # lapsed and taken
    assert a.renew() == {1}
    assert a.held == {0, 2}
    assert a.holders()[:2] == [a.token, "another-beat"]
    a.give_back([2], BASE)
    assert a.holders()[2] is None
    assert b.handoff(2) == BASE
    b.handoff_done([2])
    assert b.handoff(2) is None
    # Giving back a shard another beat holds changes nothing, and leaves no marker.
    a.held.add(3)
    a.give_back([3], BASE)
    assert a.holders()[3] == b.token
    assert a.handoff(3) is None


def test_the_live_set_forgets_beats_older_than_the_ttl(
    client: redis.Redis[bytes], redis_prefix: str
) -> None:
    a = ShardLocks(client, redis_prefix, 3.0, 4)
    b = ShardLocks(client, redis_prefix, 3.0, 4)
    assert a.live(BASE) == [a.token]
    assert b.live(BASE + S) == sorted([a.token, b.token])
    assert b.live(BASE + 4 * S) == [b.token]  # a's heartbeat is 4 s old
    b.leave()
    assert client.zcard(f"{redis_prefix}:beat:beats:4") == 0


def test_one_shard_keeps_todays_keys(client: redis.Redis[bytes], redis_prefix: str) -> None:
    lock = RedisLock(client, redis_prefix, 3.0)
    assert lock.hold(BASE)
    assert client.get(f"{redis_prefix}:beat:lock") == lock.token.encode()
    assert not list(client.scan_iter(match=f"{redis_prefix}:beat:lock:*"))


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "task": "celeryapp.tasks.echo",
            "type": 0,
            "interval_every": 1,
            "interval_period": "seconds",
            "start_time": BASE,
            "args": [],
            "kwargs": {},
            "enabled": True,
            "one_off": False,
            "total_run_count": 0,
            "catchup": "skip",  # a handoff taken as a takeover would skip the gap
            "overlap": "allow",
            "managed": True,
            "timezone": "UTC",
            "created_time": BASE - timedelta(hours=2),
            "schedule_changed_time": BASE - timedelta(hours=2),
        }
        for name in NAMES
    ]


class Fleet:
    def __init__(self, tmp_path: Path, prefix: str, shards: int = 4) -> None:
        url = f"sqlite:///{tmp_path / 'beat.db'}"
        self.broker = tmp_path / "broker"
        store.migrate(url)
        self.engine = create_engine(url)
        with self.engine.begin() as conn:
            store._insert_rows(conn, _rows())
        settings = Settings(
            database_url=url,
            broker_dir=str(self.broker),
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            beat_lock_ttl=3.0,
            beat_shards=shards,
        )
        self.now = [BASE + S / 2]
        self.app = make_app(settings)
        self.beats: list[DatabaseScheduler] = []

    def start(self) -> DatabaseScheduler:
        now = self.now
        DatabaseScheduler.clock = staticmethod(lambda: now[0])
        beat = DatabaseScheduler(app=self.app, lazy=False)
        beat._wait_for_signal = lambda wait: wait  # type: ignore[method-assign]
        self.beats.append(beat)
        return beat

    def at(self, seconds: float, *beats: DatabaseScheduler) -> None:
        self.now[0] = BASE + seconds * S
        for beat in beats:
            for _ in range(4):  # a handoff's gap drains one due time per schedule a tick
                beat.tick()

    def sent(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for path in (self.broker / "data").glob("*"):
            counts[json.loads(path.read_text())["headers"]["id"]] += 1
        return counts

    def held(self, beat: DatabaseScheduler) -> set[int]:
        assert beat.shard_locks is not None
        return set(beat.shard_locks.held)

    def close(self) -> None:
        for beat in self.beats:
            beat.engine.dispose()
            if beat.redis is not None:
                beat.redis.close()
        self.app.close()
        self.engine.dispose()


@pytest.fixture
def fleet(tmp_path: Path, redis_prefix: str, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    f = Fleet(tmp_path, redis_prefix, getattr(request, "param", 4))
    try:
        yield f
    finally:
        f.close()


def _grid(names: list[str], first: int, last: int) -> Counter[str]:
    return Counter(task_id(n, BASE + k * S) for n in names for k in range(first, last + 1))


def test_a_handoff_between_live_beats_loses_and_repeats_no_due_time(fleet: Fleet) -> None:
    giver = fleet.start()
    fleet.at(0.5, giver)
    assert fleet.held(giver) == {0, 1, 2, 3}  # alone: every shard
    fleet.at(1, giver)
    taker = fleet.start()
    fleet.at(1.2, taker)  # alive, nothing free yet
    assert fleet.held(taker) == set()
    fleet.at(2, giver)  # two live beats: quota 2, two shards given back after dispatch
    given = {0, 1, 2, 3} - fleet.held(giver)
    assert len(given) == 2
    fleet.at(3, giver)
    fleet.at(4, giver)
    # The taker's next tick comes late: 3 and 4 s passed since the giver's release.
    fleet.at(4.5, taker)
    assert fleet.held(taker) == given
    for t in (5, 6):
        fleet.at(t, giver, taker)
    assert fleet.sent() == _grid(NAMES, 1, 6)
    for beat in (giver, taker):
        beat.close()


def test_a_takeover_after_a_death_keeps_catchup(fleet: Fleet, client: redis.Redis[bytes]) -> None:
    first, second = fleet.start(), fleet.start()
    fleet.at(0.5, first, second)
    fleet.at(1, first, second)  # first gives two shards back, second takes them
    fleet.at(2, first, second)
    assert fleet.held(first) and fleet.held(second)
    dead = fleet.held(first)
    assert first.shard_locks is not None
    for i in dead:  # first dies: its locks expire
        client.delete(first.shard_locks.keys[i])
    fleet.at(6.5, second)  # first's heartbeat is 4.5 s old: dead
    assert fleet.held(second) == {0, 1, 2, 3}
    fleet.at(7, second)
    theirs = [n for n in NAMES if shard_of(n, 4) in dead]
    ours = [n for n in NAMES if n not in theirs]
    # `catchup: skip`: 3 to 6 s of the dead beat's shards are missed runs, not fired
    # (6 s was 0.5 s late at the takeover: no tick tolerance for what passed before the
    # load); our own 6 s was merely late for the beat that led it (the tick tolerance).
    assert fleet.sent() == _grid(NAMES, 1, 2) + _grid(ours, 6, 6) + _grid(NAMES, 7, 7)
    second.close()


def _change_every_row(fleet: Fleet, at: datetime) -> None:
    """An apply that names every schedule (new kwargs, same timing), as one revision."""
    with fleet.engine.begin() as conn:
        conn.execute(runstore.schedules.update().values(kwargs={"v": 2}, updated_time=at))
        insert_revision(conn, RevisionInfo(now=at, actor="test"), NAMES, {"update": 12}, [])


def _kwargs_by_task_id(fleet: Fleet) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in (fleet.broker / "data").glob("*"):
        message = json.loads(path.read_text())
        body = json.loads(base64.b64decode(message["body"]))
        out[message["headers"]["id"]] = body[1]
    return out


def test_a_change_too_large_to_reload_by_name_reloads_every_shard_and_loses_nothing(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More changed names than FULL_RELOAD_NAMES: each beat gives its shards back with a
    marker and loads them again as a handoff; no due time is lost or sent twice, and what
    is sent after the change carries the new arguments."""
    monkeypatch.setattr(beatreload, "FULL_RELOAD_NAMES", len(NAMES) - 1)
    a, b = fleet.start(), fleet.start()
    fleet.at(0.5, a, b)
    fleet.at(1, a, b)
    fleet.at(2, a, b)
    assert fleet.held(a) and fleet.held(b)
    before = {id(beat): fleet.held(beat) for beat in (a, b)}
    _change_every_row(fleet, BASE + 2.2 * S)
    fleet.now[0] = BASE + 2.4 * S
    for beat in (a, b):
        beat._last_poll = 0.0  # this tick polls the database revision
        beat.tick()
    assert not fleet.held(a) and not fleet.held(b)  # given back, to be loaded afresh
    # Taken again half a second after the 3 s due time: as a takeover (no marker), the
    # `catchup: skip` rows would miss it.
    for t in (3.5, 4, 5):
        fleet.at(t, a, b)
    assert fleet.held(a) | fleet.held(b) == {0, 1, 2, 3}
    assert {id(beat): fleet.held(beat) for beat in (a, b)} == before
    assert fleet.sent() == _grid(NAMES, 1, 5)
    kwargs = _kwargs_by_task_id(fleet)
    for name in NAMES:
        assert kwargs[task_id(name, BASE + 2 * S)] == {}
        assert kwargs[task_id(name, BASE + 3 * S)] == {"v": 2}
    for beat in (a, b):
        beat.close()


@pytest.mark.parametrize("fleet", [1], indirect=True)
def test_one_beat_reloads_everything_after_a_large_change_and_loses_nothing(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without shards: the one lock is kept, and the reload is a handoff from the
    beat to itself (dispatched up to its last tick), not a takeover."""
    monkeypatch.setattr(beatreload, "FULL_RELOAD_NAMES", len(NAMES) - 1)
    beat = fleet.start()
    for t in (0.5, 1, 2):
        fleet.at(t, beat)
    _change_every_row(fleet, BASE + 2.2 * S)
    fleet.now[0] = BASE + 2.4 * S
    beat._last_poll = 0.0
    beat.tick()
    for t in (3.5, 4, 5):
        fleet.at(t, beat)
    assert fleet.sent() == _grid(NAMES, 1, 5)
    kwargs = _kwargs_by_task_id(fleet)
    assert {kwargs[task_id(name, BASE + 3 * S)]["v"] for name in NAMES} == {2}
    beat.close()

"""The run side's statements on every database: each batch statement has a PostgreSQL form
(arrays unnested in one statement), a SQLite form and a MySQL/MariaDB form (no RETURNING:
an upsert, then a read of what carries this claim's stamp), and all must write the same
rows and win the same claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from celeryapp import runstore
from celeryapp.schedules import task_id
from celeryapp.shards import keeper, shard_key, shard_of
from syncd import store

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "task": "celeryapp.tasks.echo",
        "type": 0,
        "interval_every": 60,
        "interval_period": "seconds",
        "args": [],
        "kwargs": {},
        "enabled": True,
        "one_off": False,
        "total_run_count": 0,
        "catchup": "latest",
        "overlap": "allow",
        "managed": True,
        "timezone": "UTC",
        "created_time": BASE,
        "schedule_changed_time": BASE,
        "updated_time": BASE,
    }


@pytest.fixture
def engine(db_url: str) -> Any:
    store.migrate(db_url)
    engine = runstore.new_engine(db_url)
    with engine.begin() as conn:
        store._insert_rows(conn, [_row("a"), _row("b")])
    yield engine
    engine.dispose()


def _state(engine: Any) -> dict[str, tuple[Any, ...]]:
    s = runstore.schedules
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.c.name, s.c.last_run_time, s.c.total_run_count, s.c.updated_time)
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def test_claim_is_won_once_and_marks_and_releases_follow(engine: Any) -> None:
    dues = [BASE + timedelta(minutes=i) for i in range(3)]
    triples = [("a", d, task_id("a", d)) for d in dues]
    with engine.begin() as conn:
        won = runstore.claim(conn, triples, holder="one", now=BASE)
        again = runstore.claim(conn, triples, holder="two", now=BASE)
    assert won == {("a", d) for d in dues}
    assert again == set()
    later = BASE + timedelta(hours=1)
    with engine.begin() as conn:
        runstore.mark_published(conn, [("a", dues[0])], when=BASE)
        runstore.release(conn, [("a", dues[2])])
        lost = runstore.unpublished(conn, claimed_before=later, since=BASE - timedelta(days=1))
    assert lost == [("a", dues[1])]
    with engine.begin() as conn:  # a released claim can be won again
        assert runstore.claim(conn, [triples[2]], holder="two", now=BASE) == {("a", dues[2])}


def test_run_state_moves_forward_per_schedule_and_keeps_updated_time(engine: Any) -> None:
    first, second = BASE + timedelta(minutes=1), BASE + timedelta(minutes=2)
    with engine.begin() as conn:
        runstore.write_run_state(conn, [("a", first), ("a", second), ("b", first)])
    state = _state(engine)
    assert state["a"] == (second, 2, BASE)
    assert state["b"] == (first, 1, BASE)
    with engine.begin() as conn:  # an older due time never moves it back
        runstore.write_run_state(conn, [("a", first)])
    assert _state(engine)["a"][0] == second


def test_execution_marks_and_the_lease(engine: Any) -> None:
    with engine.begin() as conn:
        assert runstore.claim_execution(conn, "a@x", BASE)
        assert not runstore.claim_execution(conn, "a@x", BASE)
    ttl = timedelta(seconds=3)
    with engine.begin() as conn:
        assert runstore.hold_lease(conn, "beat", "one", now=BASE, ttl=ttl)
        assert not runstore.hold_lease(conn, "beat", "two", now=BASE, ttl=ttl)
        assert runstore.hold_lease(conn, "beat", "two", now=BASE + ttl * 2, ttl=ttl)
        assert runstore.lease_holder(conn, "beat") == "two"
        runstore.release_lease(conn, "beat", "two")
        assert runstore.lease_holder(conn, "beat") is None


def test_a_holder_claiming_again_in_the_same_instant_wins_nothing(engine: Any) -> None:
    """MySQL has no RETURNING: a claim is known by its stamp (holder, now); a pair the same
    holder stamped before, even at the same instant, is not won again."""
    triples = [("b", BASE + timedelta(seconds=s), task_id("b", BASE)) for s in (0, 1)]
    with engine.begin() as conn:
        assert runstore.claim(conn, triples[:1], holder="one", now=BASE) == {("b", BASE)}
    with engine.begin() as conn:
        won = runstore.claim(conn, triples, holder="one", now=BASE)
    assert won == {("b", BASE + timedelta(seconds=1))}


def test_racing_beats_win_disjoint_claims_that_cover_every_due_time(server_url: str) -> None:
    """Four connections claim the same 300 overlapping due times at once: each pair is won
    by exactly one of them, whichever dialect's upsert decides it."""
    import threading

    store.migrate(server_url)
    engine = runstore.new_engine(server_url)
    dues = [BASE + timedelta(seconds=i) for i in range(300)]
    won: dict[str, set[tuple[str, datetime]]] = {}
    start = threading.Barrier(4)

    def beat(holder: str, order: list[datetime]) -> None:
        triples = [("a", d, task_id("a", d)) for d in order]
        start.wait()
        for chunk in range(0, len(triples), 50):
            with engine.begin() as conn:
                got = runstore.claim(conn, triples[chunk : chunk + 50], holder=holder, now=BASE)
            won.setdefault(holder, set()).update(got)

    orders = [dues, dues[::-1], dues[100:] + dues[:100], dues[::2] + dues[1::2]]
    threads = [
        threading.Thread(target=beat, args=(f"beat-{i}", order)) for i, order in enumerate(orders)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        engine.dispose()
    claimed = [pair for pairs in won.values() for pair in pairs]
    assert len(claimed) == len(set(claimed)) == len(dues)
    assert set(claimed) == {("a", d) for d in dues}


def test_a_shards_rows_are_the_enabled_rows_of_its_names_with_or_without_a_stored_key(
    engine: Any,
) -> None:
    """A sharded beat's read (the database picks rows by their stored shard key; rows
    without one by their names, here) gives exactly the rows of the full read whose names
    are in the wanted shards."""
    rows = [{**_row(f"k-{i:03d}"), "args": [i], "kwargs": {"n": i}} for i in range(40)]
    rows[3]["enabled"] = False
    with engine.begin() as conn:
        store._insert_rows(conn, rows)
        # Written by other means (or by a syncd before migration 0009): no key.
        conn.execute(
            runstore.schedules.update()
            .where(runstore.schedules.c.name.in_([f"k-{i:03d}" for i in range(0, 40, 4)]))
            .values(shard_key=None)
        )
    keep = keeper(4, {1, 3})
    with engine.connect() as conn:
        everything = {r["name"]: r for r in runstore.enabled_rows(conn)}
        kept = list(runstore.enabled_rows(conn, keep))
    wanted = sorted(n for n in everything if shard_of(n, 4) in {1, 3})
    assert sorted(r["name"] for r in kept) == wanted
    assert "k-003" not in everything and 0 < len(kept) < 39
    assert any(f"k-{i:03d}" in wanted for i in range(0, 40, 4))  # key-less rows were kept
    assert all(r == everything[r["name"]] for r in kept)
    some = next(n for n in wanted if n.startswith("k-"))
    assert {r["name"]: r["kwargs"] for r in kept}[some] == {"n": int(some[2:])}


def test_every_row_written_carries_its_names_shard_key(engine: Any) -> None:
    rows = [_row(n) for n in ("x", "zürich", "東京")] + [_row(f"bulk-{i}") for i in range(60)]
    with engine.begin() as conn:
        store._insert_rows(conn, rows[:3])  # executemany
        store._insert_rows(conn, rows[3:])  # COPY on PostgreSQL
        s = runstore.schedules
        got = dict(conn.execute(select(s.c.name, s.c.shard_key)).all())
    assert got == {r["name"]: shard_key(r["name"]) for r in [_row("a"), _row("b"), *rows]}

"""Burst publishing on the Redis broker: N task messages, three ways, side by side.

- `send_task`: one call per message on one producer (what a beat does without batching);
- batched: the same `send_task` calls in chunks of 500 through `celeryapp.publish`
  (kombu's producer batch: one pipeline per chunk for the messages and their events);
- raw: pipelined LPUSH of the very bytes the batched run left on the broker (the broker's
  own floor; no Celery, no kombu, no events).

Usage: python bench/burst.py [--sizes 10000,100000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

import redis
from databases import REDIS
from machine import reference_line

from celeryapp.app import make_app
from celeryapp.publish import publish_chunk
from celeryapp.settings import Settings

CHUNK = 500


def _send(app: Any, producer: Any, i: int) -> None:
    app.send_task(
        "celeryapp.tasks.echo",
        args=[i],
        kwargs={"n": i},
        task_id=f"burst-{i}@2026-12-02T00:00:00Z",
        headers={"syncd_schedule": f"job-{i:06d}", "syncd_due": "2026-12-02T00:00:00Z"},
        producer=producer,
    )


def _clear(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def measure(size: int) -> dict[str, float]:
    prefix = f"bench-burst-{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env(
        {
            "SYNCD_DATABASE_URL": "sqlite:///:memory:",
            "SYNCD_REDIS_URL": REDIS,
            "SYNCD_REDIS_PREFIX": prefix,
            "CELERY_BROKER_URL": REDIS,
            "CELERY_BROKER_PREFIX": prefix,
        }
    )
    app = make_app(settings)
    client = redis.Redis.from_url(REDIS)
    queue = f"{prefix}:celery"
    out: dict[str, float] = {"size": size}
    try:
        with app.producer_or_acquire() as producer:
            started = time.perf_counter()
            for i in range(size):
                _send(app, producer, i)
            out["send_task_s"] = time.perf_counter() - started
            assert client.llen(queue) == size
            _clear(client, prefix)

            started = time.perf_counter()
            for start in range(0, size, CHUNK):
                chunk = range(start, min(start + CHUNK, size))
                outcome = publish_chunk(producer, chunk, lambda i: _send(app, producer, i))
                assert not outcome.failed, outcome.error
            out["batched_s"] = time.perf_counter() - started
        assert client.llen(queue) == size
        payloads = client.lrange(queue, 0, -1)
        _clear(client, prefix)
        started = time.perf_counter()
        for start in range(0, size, 1000):
            pipe = client.pipeline(transaction=False)
            for payload in payloads[start : start + 1000]:
                pipe.lpush(queue, payload)
            pipe.execute()
        out["raw_lpush_s"] = time.perf_counter() - started
        assert client.llen(queue) == size
    finally:
        _clear(client, prefix)
        client.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    rows = [measure(int(size)) for _ in range(args.rounds) for size in args.sizes.split(",")]
    print(
        f"\nburst publishing, Redis broker ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"
    )
    print(reference_line() + "\n")
    print("| messages | send_task s | batched s | raw LPUSH s | send_task / batched |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']:,.0f} | {r['send_task_s']:.2f} | {r['batched_s']:.2f} | "
            f"{r['raw_lpush_s']:.2f} | {r['send_task_s'] / r['batched_s']:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

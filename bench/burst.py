"""Burst publishing on the Redis broker: N task messages due at one instant, three ways,
side by side, each timed until all N are on the broker (LLEN checked).

- `send_task`: one call per message on one producer (the floor of a beat without batching);
- the beat's path: `celeryapp.publish.Sender` in chunks of 500 inside kombu's producer
  batch, as `beatpublish.Publisher` does (one pipeline per chunk for the messages and their
  task-sent events; a fresh Sender, so nothing is cached from an earlier burst);
- raw: pipelined LPUSH of the very bytes the beat's path left on the broker (the broker's
  own floor; no Celery, no kombu, no events).

The messages are the beat's (`Message`: task, args, kwargs, NAME@DUE task id, syncd's
headers, an expiry), built before the clock starts, the same for every path.

Usage: python bench/burst.py [--sizes 10000,100000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from databases import REDIS
from machine import reference_line

from celeryapp.app import make_app
from celeryapp.dueplan import Message
from celeryapp.publish import Sender, publish_chunk
from celeryapp.settings import Settings

CHUNK = 500
DUE = "2026-12-02T00:00:00Z"


def _messages(size: int) -> list[Message]:
    expires = datetime.now(UTC) + timedelta(hours=1)
    return [
        Message(
            "celeryapp.tasks.echo",
            [i],
            {"n": i},
            f"job-{i:06d}@{DUE}",
            {"expires": expires},
            {"syncd_schedule": f"job-{i:06d}", "syncd_due": DUE, "syncd_overlap": "allow"},
        )
        for i in range(size)
    ]


def _send_task(app: Any, producer: Any, msg: Message) -> None:
    app.send_task(
        msg.task,
        args=msg.args,
        kwargs=msg.kwargs,
        task_id=msg.task_id,
        headers=msg.headers,
        producer=producer,
        **msg.options,
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
    messages = _messages(size)
    try:
        with app.producer_or_acquire() as producer:
            started = time.perf_counter()
            for msg in messages:
                _send_task(app, producer, msg)
            out["send_task_s"] = time.perf_counter() - started
            assert client.llen(queue) == size
            _clear(client, prefix)

            sender = Sender(app)
            started = time.perf_counter()
            for start in range(0, size, CHUNK):
                sender.new_chunk()
                outcome = publish_chunk(
                    producer,
                    messages[start : start + CHUNK],
                    lambda m: sender.send(producer, m, schedule=m.headers["syncd_schedule"]),
                )
                assert not outcome.failed, outcome.error
            assert client.llen(queue) == size
            out["sender_s"] = time.perf_counter() - started
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
    print(
        "| messages | `send_task` one by one s | beat's path (Sender, batched) s "
        "| raw pipelined LPUSH s | `send_task` / beat's path | beat's path / raw |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['size']:,.0f} | {r['send_task_s']:.2f} | {r['sender_s']:.2f} | "
            f"{r['raw_lpush_s']:.2f} | {r['send_task_s'] / r['sender_s']:.2f}x | "
            f"{r['sender_s'] / r['raw_lpush_s']:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A batched message is the message `send_task` publishes, field by field, on both brokers.

The beat's `Sender` (Celery's message, with send_task's per-call work done once) inside a
producer batch, against `app.send_task` one call at a time, for messages with and without
options (queue, priority, expiry, a task's own time limits): read back raw from the broker
(kombu's basic_get), so what is compared is what a worker receives: headers, properties,
body, content type and encoding, exchange and routing key. The task-sent events Flower
shows are read off the Redis event channel and compared too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from celery import Celery

from celeryapp.app import make_app
from celeryapp.dueplan import Message
from celeryapp.publish import Sender, publish_chunk
from celeryapp.settings import Settings
from tests.conftest import RABBITMQ_URL, REDIS_URL
from tests.faults.servers import free_port

pytestmark = pytest.mark.integration

# What differs between any two messages by construction ("expiration" is the broker TTL
# in milliseconds from the moment of publishing, so it is compared apart).
PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag", "syncd_due", "expiration"}
# ...and between any two task-sent events.
PER_EVENT = {"uuid", "root_id", "clock", "timestamp"}
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=5)
# The kinds of message the beat sends: plain; queue, priority and expiry; a task of this
# app with options of its own (merged by send_task under the message's).
KINDS: dict[str, dict[str, Any]] = {
    "plain": {"task": "celeryapp.tasks.echo", "options": {}},
    "options": {
        "task": "celeryapp.tasks.echo",
        "options": {"queue": "form-q", "priority": 3, "expires": EXPIRES},
    },
    "own": {"task": "form.limited", "options": {"queue": "form-q", "routing_key": "form-q"}},
}


def _app(broker: str, prefix: str) -> Celery:
    app = make_app(
        Settings.from_env(
            {
                "SYNCD_DATABASE_URL": "sqlite:///:memory:",
                "SYNCD_REDIS_URL": REDIS_URL,
                "SYNCD_REDIS_PREFIX": prefix,
                "CELERY_BROKER_URL": broker,
                "CELERY_BROKER_PREFIX": prefix,
            }
        )
    )

    @app.task(name="form.limited", shared=False, time_limit=30, soft_time_limit=20, priority=5)  # type: ignore[untyped-decorator]
    def limited() -> None:
        """A task with options of its own."""

    app.finalize()  # the task is in the registry send_task reads, as in a running beat
    return app


def _message(kind: str, task_id: str) -> Message:
    spec = KINDS[kind]
    return Message(
        spec["task"],
        [1, "two", {"three": 3}],
        {"n": 4, "text": "ünïcode"},
        task_id,
        dict(spec["options"]),
        {"syncd_schedule": kind, "syncd_due": task_id, "syncd_overlap": "allow"},
    )


def _send_task(app: Celery, producer: Any, msg: Message) -> None:
    app.send_task(
        msg.task,
        args=msg.args,
        kwargs=msg.kwargs,
        task_id=msg.task_id,
        headers=msg.headers,
        producer=producer,
        **msg.options,
    )


def _send(app: Celery, producer: Any, task_id: str) -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=5)
    app.send_task(
        "celeryapp.tasks.echo",
        args=[1, "two", {"three": 3}],
        kwargs={"n": 4, "text": "ünïcode"},
        task_id=task_id,
        headers={"syncd_schedule": "form", "syncd_due": task_id, "syncd_overlap": "allow"},
        producer=producer,
        expires=expires,
        queue="celery",
        priority=3,
    )


def _fields(message: Any) -> dict[str, Any]:
    return {
        "headers": {k: v for k, v in message.headers.items() if k not in PER_MESSAGE},
        "header_keys": sorted(message.headers),
        "properties": {
            k: v
            for k, v in message.properties.items()
            # AMQP repeats the headers among the properties; they are compared above
            if k not in PER_MESSAGE and k not in {"delivery_info", "application_headers"}
        },
        "property_keys": sorted(message.properties),
        "body": message.decode(),
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "exchange": message.delivery_info.get("exchange"),
        "routing_key": message.delivery_info.get("routing_key"),
    }


def _read_all(app: Celery, queue: str, expect: int) -> dict[str, Any]:
    """Every message on `queue` by task id, waiting a little for a broker that lags."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + 10
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        while len(found) < expect and time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is None:
                time.sleep(0.05)
                continue
            if not hasattr(message, "decode"):  # py-amqp hands back its own raw message
                message = channel.message_to_python(message)
            found[message.headers["id"]] = message
    return found


def _compare(app: Celery) -> None:
    """The batched path (send_task's own call in a batch) keeps send_task's message."""
    with app.producer_or_acquire() as producer:
        _send(app, producer, "plain-1")
        outcome = publish_chunk(
            producer, ["batch-1", "batch-2"], lambda tid: _send(app, producer, tid)
        )
    assert outcome.sent == ["batch-1", "batch-2"], outcome
    assert not outcome.failed
    messages = _read_all(app, "celery", 3)
    assert sorted(messages) == ["batch-1", "batch-2", "plain-1"]
    plain = _fields(messages["plain-1"])
    for tid in ("batch-1", "batch-2"):
        assert _fields(messages[tid]) == plain, tid
        assert messages[tid].headers["root_id"] == tid
        assert messages[tid].properties["correlation_id"] == tid
        ttl = float(messages[tid].properties["expiration"])
        assert abs(ttl - float(messages["plain-1"].properties["expiration"])) < 10_000
    assert plain["headers"]["expires"] == "2030-01-01T00:05:00+00:00"
    assert plain["properties"]["priority"] == 3


def _compare_sender(app: Celery) -> None:
    """The beat's Sender, two chunks of each kind in a batch, against send_task."""
    sender = Sender(app)
    with app.producer_or_acquire() as producer:
        for kind in KINDS:
            _send_task(app, producer, _message(kind, f"{kind}-plain"))
        for chunk in (1, 2):
            sender.new_chunk()
            tids = [f"{kind}-sender-{chunk}" for kind in KINDS]
            outcome = publish_chunk(
                producer,
                tids,
                lambda tid: sender.send(producer, _message(tid.split("-")[0], tid)),
            )
            assert outcome.sent == tids, outcome
    on_celery = _read_all(app, "celery", 3)
    on_form_q = _read_all(app, "form-q", 6)
    messages = {**on_celery, **on_form_q}
    assert sorted(on_celery) == ["plain-plain", "plain-sender-1", "plain-sender-2"]
    for kind in KINDS:
        plain = _fields(messages[f"{kind}-plain"])
        for chunk in (1, 2):
            tid = f"{kind}-sender-{chunk}"
            assert _fields(messages[tid]) == plain, tid
            assert messages[tid].headers["root_id"] == tid
            assert messages[tid].properties["correlation_id"] == tid
            if "expiration" in messages[f"{kind}-plain"].properties:
                ttl = float(messages[tid].properties["expiration"])
                assert abs(ttl - float(messages[f"{kind}-plain"].properties["expiration"])) < 10_000
            else:
                assert "expiration" not in messages[tid].properties
    options = _fields(messages["options-plain"])
    assert options["headers"]["expires"] == "2030-01-01T00:05:00+00:00"
    assert options["properties"]["priority"] == 3
    assert options["routing_key"] == "form-q"
    own = _fields(messages["own-plain"])
    assert own["headers"]["timelimit"] == [30, 20]
    assert own["properties"]["priority"] == 5
    assert own["body"][0] == [1, "two", {"three": 3}]


@contextlib.contextmanager
def _event_counter(prefix: str) -> Iterator[list[tuple[str, bytes]]]:
    """Events seen on the Redis fanout channel (channel, payload), in a background
    listener."""
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    pubsub.psubscribe(f"{prefix}*celeryev*")
    seen: list[tuple[str, bytes]] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            item = pubsub.get_message(timeout=0.1)
            if item and item["type"] == "pmessage":
                seen.append((item["channel"].decode(), item["data"]))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.2)  # the subscription is live before anything is published
    try:
        yield seen
    finally:
        time.sleep(0.3)
        stop.set()
        thread.join(5)
        pubsub.close()
        client.close()


def test_batched_message_is_send_tasks_message_on_redis(redis_prefix: str) -> None:
    app = _app(REDIS_URL, redis_prefix)
    with _event_counter(redis_prefix) as events:
        _compare(app)
    # One task-sent event per message, batched or not: Flower sees them all.
    assert len([c for c, _ in events if c.endswith("task.sent")]) == 3, events


def _event_fields(payload: bytes) -> dict[str, Any]:
    envelope = json.loads(payload)
    body = (
        base64.b64decode(envelope["body"])
        if envelope["properties"].get("body_encoding") == "base64"
        else envelope["body"]
    )
    event: dict[str, Any] = json.loads(body)
    return event


def test_senders_message_is_send_tasks_message_on_redis(redis_prefix: str) -> None:
    app = _app(REDIS_URL, redis_prefix)
    with _event_counter(redis_prefix) as events:
        _compare_sender(app)
    sent = [_event_fields(p) for c, p in events if c.endswith("task.sent")]
    by_id = {e["uuid"]: e for e in sent}
    assert len(sent) == len(by_id) == 9, sorted(by_id)
    for kind in KINDS:
        plain = {k: v for k, v in by_id[f"{kind}-plain"].items() if k not in PER_EVENT}
        for chunk in (1, 2):
            event = by_id[f"{kind}-sender-{chunk}"]
            assert {k: v for k, v in event.items() if k not in PER_EVENT} == plain
            assert event["root_id"] == event["uuid"]
    assert by_id["options-plain"]["queue"] == "form-q"


def test_batched_message_is_send_tasks_message_on_rabbitmq(
    rabbit_vhost: str, redis_prefix: str
) -> None:
    app = _app(RABBITMQ_URL.rstrip("/") + "/" + rabbit_vhost, redis_prefix)
    _compare(app)


def test_senders_message_is_send_tasks_message_on_rabbitmq(
    rabbit_vhost: str, redis_prefix: str
) -> None:
    app = _app(RABBITMQ_URL.rstrip("/") + "/" + rabbit_vhost, redis_prefix)
    _compare_sender(app)


def test_a_flush_that_fails_reports_the_whole_chunk_unsent(
    tmp_path: Any, redis_prefix: str
) -> None:
    """A real Redis broker killed while the chunk is buffered: nothing is reported sent
    (some of it may have reached the broker; the caller publishes it again)."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, "throwaway redis-server did not start"
            time.sleep(0.05)
        app = _app(f"redis://127.0.0.1:{port}/0", redis_prefix)
        app.conf.broker_connection_retry = False
        app.conf.task_publish_retry = False
        runs = [f"run-{i}" for i in range(10)]

        def publish(tid: str) -> None:
            _send(app, producer, tid)
            if tid == "run-4":
                server.kill()
                server.wait(10)

        with app.producer_or_acquire() as producer:
            outcome = publish_chunk(producer, runs, publish)
        assert outcome.sent == []
        assert sorted(outcome.failed) == sorted(runs)
        assert outcome.error is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)

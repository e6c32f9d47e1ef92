"""Publishing a chunk of due runs with the broker's round trips batched.

Every message is still built by Celery's own `send_task` (protocol 2, the same headers,
task id, expiry, routing and `task-sent` event), so a worker cannot tell a batched message
from any other. What is batched is the transport's work: inside kombu's `Producer.batch`
the Redis transport buffers each message's LPUSH and each event's PUBLISH in one
non-transactional pipeline and sends them in one round trip; transports without batching
(RabbitMQ, the filesystem broker) publish at once, as before.

The price of batching is knowing less when the broker fails: a pipeline that fails may
have delivered any part of it. Such a chunk is reported as not sent, and the caller
publishes it again later under the same task ids, so a broker failure mid-flush can give
a duplicate message (which the worker's once-only check drops) but never a lost run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# A run costs two buffered commands: its message and its task-sent event.
_COMMANDS_PER_RUN = 2


@dataclass
class Outcome(Generic[T]):
    """What became of one chunk: runs on the broker, runs not, runs not tried (the
    chunk ran out of time), and the first error."""

    sent: list[T] = field(default_factory=list)
    failed: list[T] = field(default_factory=list)
    rest: list[T] = field(default_factory=list)
    error: BaseException | None = None


def publish_chunk(
    producer: Any,
    runs: Sequence[T],
    publish: Callable[[T], None],
    *,
    until: float | None = None,
) -> Outcome[T]:
    """Publish `runs` through `publish(run)` (which calls `send_task` with `producer`)
    and flush once at the end. A run whose message cannot be built or handed over fails
    alone; a flush that fails fails every run that was waiting in it. Past `until` (a
    `time.monotonic()` value) the runs not yet tried are left in `rest`, so that a slow
    broker cannot keep the caller from renewing its lock."""
    outcome: Outcome[T] = Outcome()
    if not runs:
        return outcome
    buffered: list[T] = []
    try:
        # One flush for the whole chunk: sized so that kombu never flushes part of it.
        with producer.batch(max_size=_COMMANDS_PER_RUN * len(runs) + 1):
            for i, run in enumerate(runs):
                if i and until is not None and time.monotonic() >= until:
                    outcome.rest = list(runs[i:])
                    break
                try:
                    publish(run)
                except Exception as exc:  # noqa: BLE001 - a broker's errors are many; all retry
                    outcome.failed.append(run)
                    outcome.error = outcome.error or exc
                else:
                    buffered.append(run)
    except Exception as exc:  # noqa: BLE001 - the flush itself: nothing in it is known sent
        outcome.failed.extend(buffered)
        outcome.error = outcome.error or exc
        return outcome
    outcome.sent = buffered
    return outcome

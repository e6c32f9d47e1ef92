"""Publishing a chunk of due runs with the broker's round trips batched.

Every message is still made and handed over by Celery (`Sender`: protocol 2, the same
headers, task id, expiry, routing and `task-sent` event as `send_task`), so a worker
cannot tell a batched message from any other; what `send_task` works out again on every
call (a task's own options, its route, the argument reprs, the queue's declaration) is
worked out once. What is batched is the transport's work: inside kombu's `Producer.batch`
the Redis transport buffers each message's LPUSH and each event's PUBLISH in one
non-transactional pipeline and sends them in one round trip; transports without batching
(RabbitMQ, the filesystem broker) publish at once, as before.

The price of batching is knowing less when the broker fails: a pipeline that fails may
have delivered any part of it. Such a chunk is reported as not sent, and the caller
publishes it again later under the same task ids, so a broker failure mid-flush can give
a duplicate message (which the worker's once-only check drops) but never a lost run.
"""

from __future__ import annotations

import inspect
import logging
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from celery.events import Event
from celery.utils.saferepr import saferepr
from celery.utils.time import subtract_datetimes, utcoffset
from kombu.common import Broadcast
from kombu.entity import Queue

from celeryapp.dueplan import Message

log = logging.getLogger("celeryapp.beat")

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


class _SentEvents:
    """The app's event dispatcher for `task-sent`, declaring its exchange once per chunk
    instead of on every event (Celery's `EventDispatcher.publish`, otherwise as it is)."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.declared = False

    def publish(
        self,
        type: str,
        fields: dict[str, Any],
        producer: Any,
        *,
        retry: bool = False,
        retry_policy: Mapping[str, Any] | None = None,
    ) -> None:
        d = self.dispatcher
        event = Event(
            type,
            hostname=d.hostname,
            utcoffset=utcoffset(),
            pid=d.pid,
            clock=d.clock.forward(),
            **fields,
        )
        try:
            with d.mutex:
                producer.publish(
                    event,
                    routing_key=type.replace("-", "."),
                    exchange=d.exchange.name,
                    retry=retry,
                    retry_policy=retry_policy,
                    declare=[] if self.declared else [d.exchange],
                    serializer=d.serializer,
                    headers=d.headers,
                    delivery_mode=d.delivery_mode,
                )
            self.declared = True
        except Exception as exc:
            # Celery's dispatcher buffers a failed event (it never sends the buffer of a
            # dispatcher that is not enabled, as this one is not); the task message stands.
            if not d.buffer_while_offline:
                raise
            log.debug("task-sent event for %s not sent: %s", fields.get("uuid"), exc)


_RouteKey = tuple[str, tuple[tuple[str, Any], ...]]


class Sender:
    """`send_task` for the beat's messages, with what it works out on every call worked
    out once: a task's own options and its route per (task, options) when no
    `task_routes` are set, the `argsrepr`/`kwargsrepr` headers per schedule, the queue's
    and the event exchange's declarations per chunk. The message is still made by Celery
    (`app.amqp.create_task_message`, protocol 2) and handed over by Celery
    (`app.amqp.send_task_message`: the publish signals, the exchange and routing key, the
    retry policy, the task-sent event), so it is `send_task`'s message, field by field
    (tests/integration/test_publish_form.py).

    `new_chunk()` before each chunk, then `send(producer, message)` for each run inside
    the producer's batch.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.amqp = app.amqp
        self._tasks: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._routes: dict[_RouteKey, dict[str, Any]] = {}
        self._reprs: dict[str, tuple[object, object, str, str]] = {}
        self._declared: set[str] = set()
        self._events = _SentEvents(self.amqp._event_dispatcher)

    def new_chunk(self) -> None:
        """What the next chunk publishes is declared again (kombu's cache decides)."""
        self._declared.clear()
        self._events.declared = False

    def _task(self, name: str) -> tuple[Any, dict[str, Any]]:
        """The registered task of `name` (if any) and its own non-empty options."""
        found = self._tasks.get(name)
        if found is None:
            task_type = self.app._tasks.get(name)
            own: dict[str, Any] = {}
            get_exec = getattr(task_type, "_get_exec_options", None)
            if get_exec is not None and inspect.ismethod(get_exec):
                own = {k: v for k, v in (get_exec() or {}).items() if v is not None}
            found = self._tasks[name] = (task_type, own)
        return found

    def _route(self, options: dict[str, Any], msg: Message, task_type: Any) -> dict[str, Any]:
        router = self.amqp.router
        if router.routes:  # a router may look at the arguments: ask it every time
            return dict(router.route(options, msg.task, msg.args, msg.kwargs, task_type))
        try:
            key: _RouteKey = (msg.task, tuple(sorted(options.items())))
            routed = self._routes.get(key)
        except TypeError:  # an unhashable option value
            return dict(router.route(options, msg.task, msg.args, msg.kwargs, task_type))
        if routed is None:
            routed = self._routes[key] = router.route(
                dict(options), msg.task, msg.args, msg.kwargs, task_type
            )
        return dict(routed)

    def _reprs_of(self, schedule: str | None, msg: Message, source: Any) -> tuple[str, str]:
        """The argsrepr and kwargsrepr headers; for a schedule, made again only when its
        arguments are other objects (a reload)."""
        args_of, kwargs_of = getattr(source, "args", None), getattr(source, "kwargs", None)
        cached = self._reprs.get(schedule) if schedule else None
        if cached is not None and cached[0] is args_of and cached[1] is kwargs_of:
            return cached[2], cached[3]
        levels = self.app.conf.task_repr_maxlevels
        argsrepr = saferepr(msg.args, self.amqp.argsrepr_maxsize, maxlevels=levels)
        kwargsrepr = saferepr(msg.kwargs, self.amqp.kwargsrepr_maxsize, maxlevels=levels)
        if schedule and source is not None:
            self._reprs[schedule] = (args_of, kwargs_of, argsrepr, kwargsrepr)
        return argsrepr, kwargsrepr

    def _expiration(self, expires: Any, task_id: str) -> float:
        if isinstance(expires, datetime):
            seconds = float(subtract_datetimes(expires, self.app.now()).total_seconds())
        elif isinstance(expires, str):
            seconds = subtract_datetimes(
                datetime.fromisoformat(expires), self.app.now()
            ).total_seconds()
        elif isinstance(expires, numbers.Real):
            seconds = float(expires)
        else:
            raise TypeError(f"expires must be a datetime, an ISO string or seconds: {expires!r}")
        if seconds < 0:
            log.warning("%s has an expiration date in the past (%ss ago)", task_id, -seconds)
            return 0
        return seconds

    def send(
        self, producer: Any, msg: Message, *, schedule: str | None = None, source: Any = None
    ) -> None:
        """Publish `msg` as `app.send_task(msg.task, args, kwargs, task_id, headers,
        producer=producer, **options)` would. `schedule` and `source` (the entry the
        message was made from) let the argument reprs be reused."""
        task_type, own = self._task(msg.task)
        options = dict(own, **msg.options) if own else dict(msg.options)
        time_limit = options.pop("time_limit", None)
        soft_time_limit = options.pop("soft_time_limit", None)
        expires = options.pop("expires", None)
        ignore_result = options.pop("ignore_result", None)
        options = self._route(options, msg, task_type)
        if expires is not None:
            options["expiration"] = self._expiration(expires, msg.task_id)
        argsrepr, kwargsrepr = self._reprs_of(schedule, msg, source)
        message = self.amqp.create_task_message(
            msg.task_id,
            msg.task,
            msg.args,
            msg.kwargs,
            expires=expires,
            reply_to=self.app.thread_oid,
            time_limit=time_limit,
            soft_time_limit=soft_time_limit,
            create_sent_event=self.app.conf.task_send_sent_event,
            ignore_result=ignore_result,
            argsrepr=argsrepr,
            kwargsrepr=kwargsrepr,
            **options,
        )
        for stamp in options.pop("stamped_headers", []):
            options.pop(stamp)
        queue = options.get("queue")
        # The queue is declared with the first message of a chunk that goes to it.
        declared_as = (
            queue.name if isinstance(queue, Queue) and not isinstance(queue, Broadcast) else None
        )
        declare: list[Any] | None = [] if declared_as in self._declared else None
        with producer.connection._reraise_as_library_errors():
            if not ignore_result:
                self.app.backend.on_task_call(producer, msg.task_id)
            self.amqp.send_task_message(
                producer,
                msg.task,
                message,
                headers=msg.headers,
                declare=declare,
                event_dispatcher=self._events,
                **options,
            )
        if declared_as is not None:
            self._declared.add(declared_as)

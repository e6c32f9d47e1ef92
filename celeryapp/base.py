"""The task base class of every syncd task (`task_cls` of the app).

Each concern lives in its own small module and is tested alone (dramatiq-middleware style):

* once-only execution of a beat task id: `celeryapp.once` (in the worker Request, before the
  message reaches the pool);
* the overlap guard of `overlap: skip` and `buffer_one` schedules: `celeryapp.overlap`;
* retries of transient database errors with backoff and jitter: `celeryapp.retry`;
* logs that name the schedule and due time: `celeryapp.tasklog`;
* `async def` tasks run to completion in the worker's greenlet: `celeryapp.asyncsupport`.

This class only composes them around the task body. The beat's headers reach the task as
`self.request.headers` (Celery's Context collects every non-Celery message header there;
retries carry them on, since `signature_from_request` copies them).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from celery import Task
from celery._state import _task_stack
from celery.exceptions import Ignore

from celeryapp.clients import shared_client
from celeryapp.once import settings_of
from celeryapp.overlap import buffer_one_guard, overlap_guard
from celeryapp.retry import backoff_delay, is_transient
from celeryapp.settings import Settings, buffered_key, running_key
from celeryapp.tasklog import RunInfo, ScheduleLogger, schedule_logger

logger = logging.getLogger("celeryapp.task")

SKIPPED = "SKIPPED"
GUARDED = frozenset({"skip", "buffer_one"})  # overlap values the base class enforces


class TaskBase(Task):  # type: ignore[misc]
    Request = "celeryapp.once:OnceOnlyRequest"

    @property
    def settings(self) -> Settings:
        return settings_of(self.app)

    @property
    def run_info(self) -> RunInfo:
        request = self.request
        headers = getattr(request, "headers", None) or {}
        return RunInfo.from_headers(headers)

    @property
    def log(self) -> ScheduleLogger:
        """A logger that prefixes `schedule=NAME due=DUE` (for use inside task bodies)."""
        return schedule_logger(self.run_info, logger)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        run = self.run_info
        if run.overlap not in GUARDED or run.schedule is None:
            return self._run_body(run, args, kwargs)
        settings = self.settings
        client = shared_client(settings.redis_url) if settings.redis_url else None
        key = running_key(settings.redis_prefix, run.schedule)
        if run.overlap == "skip":
            guard = overlap_guard(client, key)
        else:
            guard = buffer_one_guard(
                client,
                key,
                buffered_key(settings.redis_prefix, run.schedule),
                on_wait=lambda: schedule_logger(run, logger).info(
                    "waiting: the previous run of this schedule is still executing; "
                    "this one starts when it ends (overlap: buffer_one)"
                ),
            )
        with guard as may_run:
            if not may_run:
                self._skip_overlapping(run)
            return self._run_body(run, args, kwargs)

    def _run_body(self, run: RunInfo, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # What Task.__call__ does, with the coroutine of an async body run to completion
        # while the request is still pushed, so `self.request` is right inside it too.
        _task_stack.push(self)
        self.push_request(args=args, kwargs=kwargs)
        try:
            result = self.run(*args, **kwargs)
            if inspect.iscoroutine(result):
                from celeryapp.asyncsupport import run_coroutine

                result = run_coroutine(result)
        except Exception as exc:
            if is_transient(exc) and not self.request.called_directly:
                self._retry_transient(run, exc)
            raise
        finally:
            self.pop_request()
            _task_stack.pop()
        return result

    def _retry_transient(self, run: RunInfo, exc: Exception) -> None:
        settings = self.settings
        retries = int(self.request.retries or 0)
        log = schedule_logger(run, logger)
        if retries >= settings.task_max_retries:
            log.error("giving up after %d retries: %s", retries, exc)
            return
        delay = backoff_delay(
            retries, base=settings.task_retry_backoff, cap=settings.task_retry_backoff_max
        )
        log.warning(
            "transient database error, retry %d/%d in %.1fs: %s",
            retries + 1,
            settings.task_max_retries,
            delay,
            exc,
        )
        raise self.retry(exc=exc, countdown=delay, max_retries=settings.task_max_retries)

    def _skip_overlapping(self, run: RunInfo) -> None:
        why = (
            "the previous run of this schedule is still executing (overlap: skip)"
            if run.overlap == "skip"
            else "a run of this schedule is already waiting for the running one "
            "(overlap: buffer_one)"
        )
        schedule_logger(run, logger).warning("dropped: %s", why)
        # A state of its own, so the result table tells a dropped run from a finished one;
        # Ignore keeps Celery from overwriting it with SUCCESS.
        self.update_state(
            state=SKIPPED,
            meta={"reason": "overlap", "schedule": run.schedule, "due": run.due},
        )
        raise Ignore

"""Notifications of `syncd serve`: JSON POSTs to SYNCD_NOTIFY_URL from a background thread.

The body carries `event`, the event's fields, and a Slack-compatible `text`; with
SYNCD_NOTIFY_SECRET_FILE it is signed like a generic hook (`X-Syncd-Signature:
sha256=HMAC`). Sends are queued (bounded: the oldest is dropped when the sink is down for
long) and retried a bounded number of times with exponential backoff, so a slow or dead
sink never holds up a sync. The URL is logged by its host alone: a Slack webhook URL is
itself a secret.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from syncd.errors import plural
from syncd.hooks import signature

log = logging.getLogger("syncd.notify")

QUEUE_SIZE = 100


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


class Notifier:
    def __init__(
        self,
        url: str | None,
        secret: bytes | None = None,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 5.0,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(QUEUE_SIZE)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._run, name="syncd-notify", daemon=True)
            self._thread.start()

    def send(self, event: str, text: str, **fields: Any) -> None:
        """Queue a notification; returns at once."""
        if not self.url:
            return
        body = {"event": event, "text": text, **fields}
        while True:
            try:
                self._queue.put_nowait(body)
                return
            except queue.Full:
                try:
                    dropped = self._queue.get_nowait()
                    log.warning("notification queue full: dropped %s", (dropped or {}).get("event"))
                except queue.Empty:
                    pass

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within `timeout`), then stop the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        self._stop.set()

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is None:
                return
            self.deliver(body)

    def deliver(self, body: dict[str, Any]) -> bool:
        """POST one notification with bounded retries; True when the sink took it."""
        assert self.url
        data = json.dumps(body, ensure_ascii=False, default=str).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "syncd-serve"}
        if self.secret:
            headers["X-Syncd-Signature"] = signature(self.secret, data)
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")  # noqa: S310 - the operator's URL
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return True
                    reason = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                reason = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the sink refuses this body: retrying will not help
            except (urllib.error.URLError, OSError) as exc:
                reason = type(exc).__name__ + (f": {exc.reason}" if hasattr(exc, "reason") else "")
            if attempt + 1 < self.attempts:
                self._sleep(self.backoff * 2**attempt)
        self.failed += 1
        log.warning(
            "notification %s to %s failed after %s: %s",
            body.get("event"),
            host_of(self.url),
            plural(attempt + 1, "attempt"),
            reason,
        )
        return False

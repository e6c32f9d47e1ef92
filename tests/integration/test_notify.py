"""The notification sink client against a real HTTP server on loopback: bounded retries
with backoff (the sleep is injected: no waiting), no retry of a refused body, a dead sink
gives up, and `send` never waits for the sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from syncd.hooks import signature
from syncd.notify import QUEUE_SIZE, Notifier
from tests.acceptance.gitremote import free_port

pytestmark = pytest.mark.integration


class Sink:
    def __init__(self) -> None:
        self.answers: list[int] = []  # status codes to give, then 204
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.gate = threading.Event()
        self.gate.set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.gate.wait(30)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.bodies.append((dict(self.headers.items()), body))
                self.send_response(sink.answers.pop(0) if sink.answers else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/T0K3N-IN-PATH"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def sink() -> Iterator[Sink]:
    served = Sink()
    try:
        yield served
    finally:
        served.gate.set()
        served.server.shutdown()
        served.server.server_close()


def test_retries_with_backoff_then_delivers_signed(sink: Sink) -> None:
    sink.answers = [500, 503]
    slept: list[float] = []
    notifier = Notifier(sink.url, b"key", sleep=slept.append)
    assert notifier.deliver({"event": "sync_succeeded", "text": "hi"}) is True
    assert slept == [0.5, 1.0]
    assert len(sink.bodies) == 3
    headers, body = sink.bodies[-1]
    assert json.loads(body) == {"event": "sync_succeeded", "text": "hi"}
    assert headers["X-Syncd-Signature"] == signature(b"key", body)
    assert headers["Content-Type"] == "application/json"


def test_a_refused_body_is_not_retried_and_the_url_is_not_logged(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.answers = [400]
    slept: list[float] = []
    notifier = Notifier(sink.url, sleep=slept.append)
    assert notifier.deliver({"event": "x", "text": "t"}) is False
    assert (len(sink.bodies), slept, notifier.failed) == (1, [], 1)
    assert "T0K3N-IN-PATH" not in caplog.text
    assert "HTTP 400" in caplog.text


def test_a_dead_sink_gives_up_after_bounded_attempts(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    notifier = Notifier(f"http://127.0.0.1:{free_port()}/x", attempts=4, sleep=slept.append)
    assert notifier.deliver({"event": "x", "text": "t"}) is False
    assert slept == [0.5, 1.0, 2.0]
    assert "after 4 attempts" in caplog.text


def test_send_never_waits_for_the_sink(sink: Sink) -> None:
    sink.gate.clear()  # the sink hangs on every request until released
    notifier = Notifier(sink.url, sleep=lambda _s: None)
    for i in range(QUEUE_SIZE * 2):
        notifier.send("sync_succeeded", f"n{i}")  # returns although nothing is delivered
    sink.gate.set()
    notifier.close(timeout=30)
    texts = [json.loads(b)["text"] for _, b in sink.bodies]
    assert texts[-1] == f"n{QUEUE_SIZE * 2 - 1}"  # the newest kept; the oldest dropped
    assert len(texts) <= QUEUE_SIZE + 2

"""The HTTP listener of `syncd serve` (stdlib ThreadingHTTPServer).

GET  /status         the controller's status (json)
GET  /healthz        200 while the sync loop is alive
GET  /metrics        Prometheus text format (syncd_apply_total, syncd_revision, ...)
GET  /ui/...         the read-only page (syncd.pagesite), behind SYNCD_UI_BASIC_AUTH or
                     SYNCD_UI_TOKEN; off (404) without either
GET  /readyz         200 when the database answers and the last sync did not fail; else 503
                     with the reason
POST /hooks/github   X-Hub-Signature-256
POST /hooks/gitlab   X-Gitlab-Token
POST /hooks/generic  X-Syncd-Signature: sha256=HMAC of the body

A hook answers as soon as the signature is checked (202); the sync runs on the loop, so a
burst of hooks is one sync. Nothing a request sends is logged but its method, path and
status.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syncd import controller as decisions
from syncd.hooks import KINDS, MAX_BODY, judge
from syncd.page import PREFIX
from syncd.pagesite import Site, handle
from syncd.serve import Controller, database_ready

log = logging.getLogger("syncd.serve.http")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"--listen {value!r}: write HOST:PORT, like 127.0.0.1:8650 or 0.0.0.0:8650"
        )
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":8650" means every address


class _Server(ThreadingHTTPServer):
    """The listener, with what its handlers answer from."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        controller: Controller,
        secret: bytes | None,
        loop_alive: threading.Event,
        site: Site | None,
    ) -> None:
        self.controller = controller
        self.secret = secret
        self.loop_alive = loop_alive
        self.site = site
        super().__init__(address, _Handler)


def make_server(
    address: tuple[str, int],
    controller: Controller,
    *,
    secret: bytes | None,
    loop_alive: threading.Event,
    site: Site | None = None,
) -> ThreadingHTTPServer:
    return _Server(address, controller, secret, loop_alive, site)


class _Handler(BaseHTTPRequestHandler):
    server_version = "syncd-serve"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(body, indent=2, default=str).encode())

    def _send_bytes(self, status: int, data: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            if self.server.site is None:
                self._send(
                    404, {"error": "the page is off: set SYNCD_UI_BASIC_AUTH or SYNCD_UI_TOKEN"}
                )
            else:
                handle(self, self.server.site)
            return
        route = _GET.get(path)
        if route is None:
            self._send(404, {"error": f"no such endpoint: GET {path}"})
        else:
            route(self)

    def healthz(self) -> None:
        alive = self.server.loop_alive.is_set()
        self._send(200 if alive else 503, {"ok": alive})

    def readyz(self) -> None:
        problem = self._not_ready()
        if problem:
            self._send(503, {"ready": False, "reason": problem})
        else:
            self._send(200, {"ready": True})

    def _not_ready(self) -> str | None:
        controller = self.server.controller
        problem = database_ready(controller.config.database_url)
        if problem is not None:
            return problem
        try:
            view = controller.status()
        except Exception as exc:  # noqa: BLE001 - not ready, say why
            return f"{type(exc).__name__}: {exc}"
        reason = view["reason"] if view["state"] == decisions.FAILED else None
        return str(reason) if reason else None

    def metrics(self) -> None:
        from syncd.metrics import CONTENT_TYPE

        controller = self.server.controller
        try:
            data = controller.metrics.render(controller.status())
        except Exception as exc:  # noqa: BLE001 - the database may be away
            self._send(503, {"error": f"{type(exc).__name__}: {exc}"})
            return
        self._send_bytes(200, data, CONTENT_TYPE)

    def status(self) -> None:
        try:
            self._send(200, self.server.controller.status())
        except Exception as exc:  # noqa: BLE001 - the database may be away
            self._send(503, {"error": f"{type(exc).__name__}: {exc}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        kind = path.removeprefix("/hooks/")
        if not path.startswith("/hooks/") or kind not in KINDS:
            self._send(404, {"error": f"no such endpoint: POST {path}"})
            return
        secret = self.server.secret
        if secret is None:
            self._send(
                503,
                {"error": "webhooks are off: set SYNCD_WEBHOOK_SECRET_FILE to a secret file"},
            )
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send(413, {"error": f"the body must be 0..{MAX_BODY} bytes"})
            return
        self._hook(kind, self.rfile.read(length), secret)

    def _hook(self, kind: str, body: bytes, secret: bytes) -> None:
        controller = self.server.controller
        verdict = judge(kind, dict(self.headers.items()), body, secret, controller.config.branch)
        controller.metrics.webhooks.labels(kind, str(verdict.status)).inc()
        if verdict.status == 401:
            log.warning("webhook %s from %s: %s", kind, self.client_address[0], verdict.message)
        elif verdict.sync:
            log.info("webhook %s: %s", kind, verdict.message)
            controller.request()
        self._send(verdict.status, {"message": verdict.message, "sync": verdict.sync})


_GET: dict[str, Callable[[_Handler], None]] = {
    "/healthz": _Handler.healthz,
    "/readyz": _Handler.readyz,
    "/metrics": _Handler.metrics,
    "/status": _Handler.status,
}


def serve_forever(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="syncd-http", daemon=True
    )
    thread.start()
    time.sleep(0)
    return thread

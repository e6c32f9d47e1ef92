"""The HTTP listener of `syncd serve` (stdlib ThreadingHTTPServer).

GET  /status         the controller's status (json)
GET  /healthz        200 while the sync loop is alive
GET  /metrics        Prometheus text format (syncd_apply_total, syncd_revision, ...)
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syncd import controller as decisions
from syncd.hooks import KINDS, MAX_BODY, judge
from syncd.serve import Controller, database_ready

log = logging.getLogger("syncd.serve.http")


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"--listen {value!r}: write HOST:PORT, like 127.0.0.1:8650 or 0.0.0.0:8650"
        )
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":8650" means every address


def make_server(
    address: tuple[str, int],
    controller: Controller,
    *,
    secret: bytes | None,
    loop_alive: threading.Event,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "syncd-serve"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, indent=2, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                alive = loop_alive.is_set()
                self._send(200 if alive else 503, {"ok": alive})
            elif path == "/readyz":
                problem = database_ready(controller.config.database_url)
                if problem is None:
                    try:
                        view = controller.status()
                    except Exception as exc:  # noqa: BLE001 - not ready, say why
                        problem = f"{type(exc).__name__}: {exc}"
                    else:
                        if view["state"] == decisions.FAILED:
                            problem = view["reason"]
                if problem:
                    self._send(503, {"ready": False, "reason": problem})
                else:
                    self._send(200, {"ready": True})
            elif path == "/metrics":
                from syncd.metrics import CONTENT_TYPE

                try:
                    data = controller.metrics.render(controller.status())
                except Exception as exc:  # noqa: BLE001 - the database may be away
                    self._send(503, {"error": f"{type(exc).__name__}: {exc}"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif path == "/status":
                try:
                    self._send(200, controller.status())
                except Exception as exc:  # noqa: BLE001 - the database may be away
                    self._send(503, {"error": f"{type(exc).__name__}: {exc}"})
            else:
                self._send(404, {"error": f"no such endpoint: GET {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            kind = path.removeprefix("/hooks/")
            if not path.startswith("/hooks/") or kind not in KINDS:
                self._send(404, {"error": f"no such endpoint: POST {path}"})
                return
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
            body = self.rfile.read(length)
            verdict = judge(
                kind, dict(self.headers.items()), body, secret, controller.config.branch
            )
            controller.metrics.webhooks.labels(kind, str(verdict.status)).inc()
            if verdict.status == 401:
                log.warning("webhook %s from %s: %s", kind, self.client_address[0], verdict.message)
            elif verdict.sync:
                log.info("webhook %s: %s", kind, verdict.message)
                controller.request()
            self._send(verdict.status, {"message": verdict.message, "sync": verdict.sync})

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    return server


def serve_forever(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="syncd-http", daemon=True
    )
    thread.start()
    time.sleep(0)
    return thread

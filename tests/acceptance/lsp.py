"""A minimal Language Server Protocol client over stdio (JSON-RPC with Content-Length
framing), enough to drive yaml-language-server as an editor does: open a document, read
the diagnostics it publishes, ask for completion and hover."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

YAML_LANGUAGE_SERVER = "yaml-language-server@1.25.0"  # the first line to support 2020-12 well


def install_server(cache: Path) -> Path:
    """yaml-language-server from the npm registry into `cache` (once; reused after)."""
    binary = cache / "node_modules" / ".bin" / "yaml-language-server"
    if binary.exists():
        return binary
    staging = cache.with_name(f"{cache.name}.{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(staging),
            YAML_LANGUAGE_SERVER,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    with contextlib.suppress(OSError):  # atomic: a concurrent run wins, or this one stays
        staging.rename(cache)
    return binary if binary.exists() else staging / "node_modules" / ".bin" / binary.name


class Client:
    def __init__(self, server: Path, root: Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.proc = subprocess.Popen(
            [str(server), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.buffer = b""
        self.next_id = 1
        self.published: dict[str, list[dict[str, Any]]] = {}
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {
                    "workspace": {"configuration": True},
                    "textDocument": {"completion": {}, "hover": {}, "publishDiagnostics": {}},
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": settings})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def _read(self, deadline: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    message: dict[str, Any] = json.loads(rest[:length])
                    return message
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("yaml-language-server did not answer")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("yaml-language-server exited")
            self.buffer += chunk

    def _until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("method") == "workspace/configuration":
                items = message["params"]["items"]
                self._send(
                    {
                        "id": message["id"],
                        "result": [self.settings.get(i.get("section", ""), None) for i in items],
                    }
                )
                continue
            if "id" in message and "method" in message:  # any other request: accept it
                self._send({"id": message["id"], "result": None})
                continue
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                self.published[params["uri"]] = params["diagnostics"]
            if done(message):
                return message

    def request(self, method: str, params: dict[str, Any]) -> Any:
        ident = self.next_id
        self.next_id += 1
        self._send({"id": ident, "method": method, "params": params})
        return self._until(lambda m: m.get("id") == ident and "method" not in m).get("result")

    def open(self, path: Path, text: str) -> list[dict[str, Any]]:
        """Open a document; the diagnostics the server publishes for it."""
        uri = path.as_uri()
        self.published.pop(uri, None)
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
        )
        self._until(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
            )
        )
        return self.published[uri]

    def complete(self, path: Path, line: int, character: int) -> list[str]:
        result = self.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        items = result["items"] if isinstance(result, dict) else (result or [])
        return [item["label"] for item in items]

    def hover(self, path: Path, line: int, character: int) -> str:
        result = self.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        return str((result or {}).get("contents", {}).get("value", ""))

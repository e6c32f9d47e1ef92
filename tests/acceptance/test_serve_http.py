"""`syncd serve` over http(s) with credentials: `git http-backend` behind a small local
server that demands basic auth. The password comes from a file and appears in no output,
no log and not in the clone's config."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.acceptance.gitremote import Remote, free_port, schedules
from tests.acceptance.serve_process import once

pytestmark = pytest.mark.acceptance

PASSWORD = "s3cr3t-pw-never-shown"


def git_http_server(root: Path) -> ThreadingHTTPServer:
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def _cgi(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(length),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "REMOTE_USER": "alice",
                "REMOTE_ADDR": "127.0.0.1",
            }
            done = subprocess.run(
                ["git", "http-backend"],
                input=self.rfile.read(length),
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            head, _, body = done.stdout.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
            status = next((v.strip() for k, v in headers if k.lower() == "status"), "200")
            self.send_response(int(status.split()[0]))
            for key, value in headers:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _cgi  # noqa: N815 - http.server's method names
        do_POST = _cgi  # noqa: N815

        def log_message(self, *_: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[tuple[Remote, str]]:
    remote = Remote(tmp_path)
    server = git_http_server(tmp_path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield remote, f"http://127.0.0.1:{server.server_address[1]}/remote.git"
    finally:
        server.shutdown()
        server.server_close()


def test_https_style_remote_with_a_password_file(
    pg_url: str, tmp_path: Path, http_remote: tuple[Remote, str]
) -> None:
    remote, url = http_remote
    head = remote.commit({"schedules/a.yaml": schedules("alpha")}, "Add alpha")
    secret = tmp_path / "git-password"
    secret.write_text(PASSWORD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "GIT_"))}
    env.update(SYNCD_DATABASE_URL=pg_url, SYNCD_GIT_USERNAME="alice")

    denied = once(env, tmp_path, url)  # no password: refused by the server, said clearly
    assert denied.returncode == 3, denied.stdout + denied.stderr
    assert "cannot fetch" in denied.stderr or "failed" in denied.stderr

    wrong = tmp_path / "wrong"
    wrong.write_text("not-it")
    bad = once({**env, "SYNCD_GIT_PASSWORD_FILE": str(wrong)}, tmp_path, url)
    assert bad.returncode == 3
    assert "not-it" not in bad.stdout + bad.stderr

    done = once({**env, "SYNCD_GIT_PASSWORD_FILE": str(secret)}, tmp_path, url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert head[:12] in done.stdout
    # The password went through GIT_ASKPASS: not in any output, nor in the clone.
    for output in (denied, bad, done):
        assert PASSWORD not in output.stdout + output.stderr
    config = (tmp_path / "once-state" / "repo.git" / "config").read_text()
    assert PASSWORD not in config and "alice" not in config
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM sys_task_scheduler")).scalars().all() == [
            "alpha"
        ]
        stored = conn.execute(text("SELECT repo FROM syncd_controller")).scalar_one()
    engine.dispose()
    assert stored == url

    # A URL that carries the password itself still works, and is never shown with it.
    with_creds = url.replace("http://", f"http://alice:{PASSWORD}@")
    env.pop("SYNCD_GIT_USERNAME")
    (tmp_path / "second").mkdir()
    done = once(env, tmp_path / "second", with_creds)
    assert done.returncode == 0, done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr

"""Serving the page (syncd.page): which path shows what, read from the database and the
result backend at each request, behind basic auth or a bearer token.

`syncd serve` answers `/ui/...` on its listener with a `Site`; `syncd ui` runs a listener
of its own with nothing else on it. Credentials come from the environment, never from a
command line: SYNCD_UI_BASIC_AUTH (`user:password`, several separated by commas, judged
like Flower's) and/or SYNCD_UI_TOKEN (sent as `Authorization: Bearer TOKEN`, at least 32
characters). Without either the page is off in `serve`; `syncd ui` then listens on a
loopback address only, for one person on their own machine.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from celeryapp.settings import Settings
from syncd import page
from syncd.errors import SyncdError, UsageError

MIN_TOKEN = 32
HTML = "text/html; charset=utf-8"
LOAD_CACHE_SECONDS = 60.0
# What a browser may do with these pages: nothing but show them.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Auth:
    users: tuple[tuple[str, str], ...] = ()
    token: str | None = None

    def allows(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a known credential (constant time)."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token:
            return hmac.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() != "basic" or not self.users:
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        known = False
        for u, p in self.users:  # every pair compared: the time says nothing of which
            known |= hmac.compare_digest(f"{user}:{password}".encode(), f"{u}:{p}".encode())
        return known


def auth_from_env(env: Mapping[str, str]) -> Auth | None:
    """The page's credentials (None: none set); a weak or malformed one is a UsageError."""
    from celeryapp.flower import RefusedCredentials, check_credentials

    users_text = env.get("SYNCD_UI_BASIC_AUTH", "").strip()
    token = env.get("SYNCD_UI_TOKEN", "").strip() or None
    if not users_text and not token:
        return None
    users: list[tuple[str, str]] = []
    if users_text:
        try:
            users = check_credentials(users_text, "SYNCD_UI_BASIC_AUTH", "the page")
        except RefusedCredentials as exc:
            raise UsageError(str(exc)) from None
    if token is not None and len(token) < MIN_TOKEN:
        raise UsageError(
            f"SYNCD_UI_TOKEN is {len(token)} characters long; use at least {MIN_TOKEN} "
            "random ones (`openssl rand -hex 32`)"
        )
    return Auth(tuple(users), token)


class Site:
    """The page's routes. Every request reads fresh state; only the load chart (about 2 s
    for 10 000 schedules) is kept for a minute, per revision."""

    def __init__(self, settings: Settings, auth: Auth | None, warn: Callable[[str], None]) -> None:
        self.settings = settings
        self.auth = auth
        self.warn = warn
        self._load: tuple[int | None, float, Any] | None = None
        self._lock = threading.Lock()

    def answer(
        self, path: str, query: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a GET."""
        if self.auth is not None and not self.auth.allows(authorization):
            return (
                401,
                {"WWW-Authenticate": 'Basic realm="syncd", charset="UTF-8"'},
                b"credentials needed\n",
            )
        try:
            status, body = self._route(path, query)
        except SyncdError as exc:
            status, body = (
                503,
                page.layout("Unavailable", f"<p>{exc.message}</p>", page.Header(None, None, None)),
            )
        return status, {"Content-Type": HTML, **SECURITY_HEADERS}, body.encode()

    def _route(self, path: str, query: Mapping[str, str]) -> tuple[int, str]:
        from syncd import overview

        rest = path.removeprefix(page.PREFIX).rstrip("/") or "/"
        header = self.header()
        if rest == "/":
            views = overview.views(self.settings, self.warn)
            number = query.get("page", "1")
            return 200, page.schedules_page(
                views,
                header,
                q=query.get("q", ""),
                state=query.get("state", ""),
                page=int(number) if number.isdecimal() else 1,
            )
        if rest.startswith("/schedules/"):
            name = unquote(rest.removeprefix("/schedules/"))
            try:
                shown, revisions = overview.detail(self.settings, name, self.warn)
            except SyncdError as exc:
                if exc.exit_code == 1:  # no such schedule
                    return 404, page.not_found(exc.message, header)
                raise
            return 200, page.schedule_page(shown, revisions, header)
        if rest == "/revisions":
            return 200, page.revisions_page(self._revisions(), header)
        if rest.startswith("/revisions/") and rest.removeprefix("/revisions/").isdecimal():
            revision = int(rest.removeprefix("/revisions/"))
            text = self._revision_text(revision)
            if text is None:
                return 404, page.not_found(f"no revision {revision}", header)
            return 200, page.revision_page(revision, text, header)
        if rest == "/load":
            return 200, page.load_page(self._load_now(header.revision), header)
        return 404, page.not_found(f"no page at {path}", header)

    def header(self) -> page.Header:
        from syncd import store
        from syncd.status import beat_leader, heartbeat_age

        with store.connect(self.settings.database_url) as conn:
            latest = store.latest_revision_row(conn)
            controllers = store.read_controller(conn)
            recent = store.revision_rows(conn, 50)
        live = next((c.get("live_commit") for c in controllers if c.get("live_commit")), None)
        # A pause or resume has no commit: the live one is the last apply's that had one.
        applied = next((r["git_commit"] for r in recent if r.get("git_commit")), None)
        beat = beat_leader(self.settings)
        return page.Header(
            revision=latest["id"] if latest else None,
            commit=live or applied,
            leader=beat.get("leader"),
            heartbeat_age=heartbeat_age(beat, datetime.now(UTC)),
        )

    def _revisions(self) -> list[dict[str, Any]]:
        from syncd import history, store

        with store.connect(self.settings.database_url) as conn:
            return [history.entry(r) for r in store.revision_rows(conn, 200)]

    def _revision_text(self, number: int) -> str | None:
        from syncd import history, store

        with store.connect(self.settings.database_url) as conn:
            row = store.revision_row(conn, number)
        return history.render_one(row, "text") if row else None

    def _load_now(self, revision: int | None) -> Any:
        from syncd.load import load
        from syncd.nextrun import load_entries

        with self._lock:
            cached = self._load
            if (
                cached
                and cached[0] == revision
                and time.monotonic() - cached[1] < LOAD_CACHE_SECONDS
            ):
                return cached[2]
            now = datetime.now(UTC)
            entries = load_entries(
                [], from_db=True, database_url=self.settings.database_url,
                default_timezone=self.settings.timezone, anchor=now,
            )  # fmt: skip
            value = load(entries, now)
            self._load = (revision, time.monotonic(), value)
            return value


def query_of(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def handle(handler: BaseHTTPRequestHandler, site: Site) -> None:
    """Answer one GET on any listener (serve's or ui's) from `site`."""
    path, _, raw = handler.path.partition("?")
    status, headers, body = site.answer(path, query_of(raw), handler.headers.get("Authorization"))
    handler.send_response(status)
    for key, value in {**headers, "Content-Length": str(len(body))}.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


class _UiHandler(BaseHTTPRequestHandler):
    server_version = "syncd-ui"
    sys_version = ""
    server: UiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a request is not worth a line; errors are on the page

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("", "/"):
            self.send_response(302)
            self.send_header("Location", page.PREFIX + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        handle(self, self.server.site)


class UiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        self.site = site
        super().__init__(address, _UiHandler)


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")

"""The page's HTML (escaped, searched, filtered, paged) and its credentials, without a
server or a database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from syncd import page
from syncd.errors import UsageError
from syncd.listing import View
from syncd.load import HOURS, MINUTES, Load
from syncd.pagesite import Auth, auth_from_env
from syncd.plan import Paused

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HEADER = page.Header(revision=7, commit="0123456789abcdef", leader="beat@host:1", heartbeat_age=0.4)


def _view(name: str, **kw: Any) -> View:
    base: dict[str, Any] = {
        "name": name,
        "task": "reports.send",
        "timing": "cron: 0 3 * * *",
        "timezone": "UTC",
        "enabled": True,
        "managed": True,
        "source": "schedules/a.yaml:3",
        "paused": None,
        "next_due": NOW,
        "last_due": None,
        "run_count": 0,
        "last_outcome": "never ran",
        "consecutive_failures": 0,
        "late_seconds": None,
        **kw,
    }
    return View(**base)


def test_every_value_is_escaped() -> None:
    hostile = _view(
        "x",
        task="<script>alert(1)</script>",
        paused=Paused("x", "<img src=x onerror=alert(1)>", "<b>me</b>", None),
    )
    html = page.schedules_page([hostile], HEADER) + page.schedule_page(hostile, [], HEADER)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>me" not in html
    assert "&lt;script&gt;" in html
    assert "<script" not in page.schedules_page([hostile], HEADER)  # no script of our own


def test_search_filter_and_pages() -> None:
    views = [_view(f"job-{n:05d}") for n in range(2500)] + [
        _view("stuck", late_seconds=120.0),
        _view("held", paused=Paused("held", "incident", None, None)),
    ]
    first = page.schedules_page(views, HEADER)
    assert f"{page.PAGE_SIZE} shown" not in first and "2502 shown of 2502" in first
    assert first.count("<tr>") == page.PAGE_SIZE + 1  # the heading row and one page
    assert 'href="/ui/?page=3"' in first
    late = page.schedules_page(views, HEADER, state="late")
    assert "1 shown of 2502" in late and "stuck" in late and "late 0:02:00" in late
    found = page.schedules_page(views, HEADER, q="JOB-0249")
    assert "10 shown" in found  # job-02490 .. job-02499
    assert "paused: incident" in page.schedules_page(views, HEADER, q="held")


def test_the_header_names_the_revision_commit_and_leader() -> None:
    html = page.schedules_page([], HEADER)
    assert "revision 7" in html and "0123456789ab" in html and "beat leader beat@host:1" in html
    nobody = page.schedules_page([], page.Header(None, None, None))
    assert "no beat leads" in nobody


def test_the_load_chart_is_inline_svg_with_the_herd_in_red() -> None:
    minutes = [0] * MINUTES
    minutes[60] = 10_000
    load = Load(NOW, NOW, minutes, NOW, [0] * HOURS, 10_000)
    html = page.load_page(load, HEADER)
    assert html.count("<svg") == 2 and 'class="hot"' in html and "10,000" in html


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_and_tokens() -> None:
    auth = Auth(users=(("ops", "correct horse battery staple"),), token="t" * 40)
    assert auth.allows(_basic("ops", "correct horse battery staple"))
    assert not auth.allows(_basic("ops", "wrong"))
    assert not auth.allows(_basic("other", "correct horse battery staple"))
    assert auth.allows("Bearer " + "t" * 40) and not auth.allows("Bearer " + "t" * 39)
    assert not auth.allows(None) and not auth.allows("Basic !!!notbase64")


def test_credentials_from_the_environment_are_judged() -> None:
    assert auth_from_env({}) is None
    strong = auth_from_env({"SYNCD_UI_BASIC_AUTH": "ops:correct horse battery staple"})
    assert strong is not None and strong.users == (("ops", "correct horse battery staple"),)
    with pytest.raises(UsageError, match="SYNCD_UI_BASIC_AUTH"):
        auth_from_env({"SYNCD_UI_BASIC_AUTH": "admin:changeme"})
    with pytest.raises(UsageError, match="at least 32"):
        auth_from_env({"SYNCD_UI_TOKEN": "short"})

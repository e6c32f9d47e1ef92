"""The `headers` field: what validates, where errors point, and what the message carries."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from celeryapp.dueplan import entry_from_row, message
from celeryapp.schedules import task_id
from syncd.nextrun import beat_row
from syncd.sources import SourceFile
from syncd.validate import validate_file

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def check(body: str) -> tuple[list[object], list[tuple[str, int, int, str]]]:
    text = "version: 1\nschedules:\n  - name: a\n    task: t.x\n    every: 1m\n" + body
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    return list(result.schedules), [
        (d.code, d.line, d.column, d.message) for d in result.diagnostics
    ]


def test_headers_validate_and_reach_the_message_beside_syncds_own() -> None:
    schedules, errors = check("    headers:\n      x-team: billing\n      x-tenant: 42\n")
    assert errors == []
    (schedule,) = schedules
    entry = entry_from_row(beat_row(schedule, anchor=T0), default_timezone="UTC")  # type: ignore[arg-type]
    sent = message(entry, T0, task_id=task_id("a", T0))
    assert sent.headers["x-team"] == "billing" and sent.headers["x-tenant"] == 42
    assert sent.headers["syncd_schedule"] == "a" and sent.headers["syncd_due"]


@pytest.mark.parametrize(
    ("body", "code", "line", "says"),
    [
        ("    headers:\n      task: other\n", "headers.reserved", 7, "'x-task'"),
        ("    headers:\n      ETA: soon\n", "headers.reserved", 7, "Celery sets on every"),
        ("    headers:\n      syncd_due: x\n", "headers.reserved", 7, "starts with 'syncd_'"),
        ("    headers:\n      x-flag: yes\n", "yaml.implicit-type", 7, "quote it"),
        ("    headers:\n      x-list: [1, 2]\n", "schema.type", 7, "got list"),
        ("    headers:\n      'bad name': 1\n", "schema.pattern", 7, "like x-team"),
    ],
)
def test_bad_headers_are_errors_at_their_line(body: str, code: str, line: int, says: str) -> None:
    schedules, errors = check(body)
    assert schedules == []
    assert [(c, ln) for c, ln, _, _ in errors] == [(code, line)], errors
    assert says in errors[0][3]


def test_defaults_can_set_headers_and_a_schedule_replaces_them_whole() -> None:
    text = (
        "version: 1\ndefaults:\n  headers:\n    x-team: ops\nschedules:\n"
        "  - name: a\n    task: t.x\n    every: 1m\n"
        "  - name: b\n    task: t.x\n    every: 1m\n    headers:\n      x-tenant: 7\n"
    )
    data = text.encode()
    result = validate_file(SourceFile("s.yaml", data, hashlib.sha256(data).hexdigest()))
    assert result.diagnostics == []
    a, b = result.schedules
    assert a.headers == {"x-team": "ops"} and b.headers == {"x-tenant": 7}

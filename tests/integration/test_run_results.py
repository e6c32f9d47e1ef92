"""Run outcomes read from each kind of result backend by task id, in batches: the
database backend (Celery's table) and a key-value one (Redis), both written by Celery's
own backend API as a worker writes them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from celeryapp.app import make_app
from celeryapp.settings import Settings
from syncd.overview import read_results

pytestmark = pytest.mark.integration


def _store_and_read(settings: Settings) -> None:
    app = make_app(settings)
    stamp = uuid.uuid4().hex[:8]
    done, failed, started, missing = (f"{k}-{stamp}@2026-12-03T12:00:00Z" for k in "dfsm")
    try:
        backend = app.backend
        backend.store_result(done, {"ok": True}, "SUCCESS")
        backend.store_result(failed, ValueError("no"), "FAILURE", traceback="tb")
        backend.store_result(started, {"pid": 1, "hostname": "w1@h"}, "STARTED")
        warnings: list[str] = []
        ids = [done, failed, started, missing] * 700  # more than one batch
        results = read_results(settings, ids, warnings.append)
        assert not warnings
        assert {t: r.status for t, r in results.items()} == {
            done: "SUCCESS",
            failed: "FAILURE",
            started: "STARTED",
        }
        assert results[done].finished is not None and results[done].finished.tzinfo is not None
    finally:
        for task in (done, failed, started):
            app.backend.forget(task)
        app.close()


def test_database_backend(db_url: str) -> None:
    from syncd import store

    store.migrate(db_url, 30)
    _store_and_read(Settings.from_env({"SYNCD_DATABASE_URL": db_url}))


def test_redis_backend(sqlite_url: str, redis_url: str) -> None:
    _store_and_read(
        Settings.from_env({"SYNCD_DATABASE_URL": sqlite_url, "CELERY_RESULT_BACKEND": redis_url})
    )


def test_an_unreachable_backend_is_a_warning(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SYNCD_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "CELERY_RESULT_BACKEND": "redis://:secret@127.0.0.1:1/0",
        }
    )
    warnings: list[str] = []
    assert read_results(settings, ["a@2026-12-03T12:00:00Z"], warnings.append) == {}
    assert len(warnings) == 1 and "outcomes are shown as sent" in warnings[0]
    assert "secret" not in warnings[0]

"""Fixtures of the acceptance layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.installed import Installed, build_and_install
from tests.celery_worker import worker_env
from tests.conftest import (
    create_mysql_database,
    create_pg_database,
    drop_mysql_database,
    drop_pg_database,
)
from tests.tally import Tally, tally_env


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The built wheel installed in a fresh venv outside the checkout (once a session)."""
    workdir: Path = tmp_path_factory.mktemp("installed-wheel")
    return build_and_install(workdir)


BEAT = {"SYNCD_BEAT_LOCK_TTL": "3", "SYNCD_BEAT_MAX_INTERVAL": "1", "SYNCD_BEAT_POLL_INTERVAL": "2"}


@pytest.fixture(params=["embedded", "postgresql+redis", "mariadb+redis"])
def tally_stack(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[dict[str, str]]:
    """The embedded default (SQLite + filesystem broker, no Redis), PostgreSQL + Redis, or
    MariaDB + Redis."""
    tally = tmp_path / "tally"
    if request.param == "embedded":
        base = worker_env(
            f"sqlite:///{tmp_path / 'syncd.db'}",
            None,
            redis_prefix,
            SYNCD_BROKER_DIR=str(tmp_path / "broker"),
            **BEAT,
        )
        yield tally_env(base, tally)
        return
    create, drop = (
        (create_pg_database, drop_pg_database)
        if request.param == "postgresql+redis"
        else (create_mysql_database, drop_mysql_database)
    )
    name, url = create()
    try:
        yield tally_env(worker_env(url, redis_url, redis_prefix, **BEAT), tally)
    finally:
        drop(name)


def tally_of(env: dict[str, str]) -> Tally:
    return Tally(Path(env["SYNCD_TALLY_DIR"]))


def stack_name(env: dict[str, str]) -> str:
    if not env.get("SYNCD_REDIS_URL"):
        return "embedded (SQLite, no Redis)"
    return (
        "MariaDB" if env["SYNCD_DATABASE_URL"].startswith("mysql") else "PostgreSQL"
    ) + " + Redis"

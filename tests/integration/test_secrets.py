"""No password reaches stdout or stderr, whatever form the URL takes and whichever
service fails (DESIGN: secrets never printed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from celeryapp.redact import install_log_redaction
from tests.integration.test_apply import A, run

pytestmark = pytest.mark.integration
SECRET = "Zq9-s3cret"

DATABASE_URLS = [
    f"postgresql://bob:{SECRET}@127.0.0.1:1/x",
    f"postgresql://bob:p@{SECRET}@127.0.0.1:1/x",
    f"postgresql://bob@127.0.0.1:1/x?password={SECRET}",
    f"postgresql+psycopg://bob@127.0.0.1:1/x?sslmode=disable&password={SECRET}",
    f"host=127.0.0.1 port=1 user=bob password={SECRET} dbname=x",
    f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/x",
]
REDIS_URLS = [
    f"redis://:{SECRET}@127.0.0.1:1/0",
    f"redis://bob:p@{SECRET}@127.0.0.1:1/0",
    f"redis://127.0.0.1:1/0?password={SECRET}",
    f"rediss://:{SECRET}@127.0.0.1:1/0",
    f"redis+sentinel://:{SECRET}@127.0.0.1:1,:{SECRET}@127.0.0.1:2/mymaster/0",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(A)
    return tmp_path


@pytest.mark.parametrize("url", DATABASE_URLS)
def test_unreachable_database(tree: Path, url: str) -> None:
    for command in (["-v", "apply"], ["plan", "--format", "json"], ["migrate"], ["status"]):
        done = run("--database-url", url, *command, cwd=tree, check=None)
        assert done.returncode in (3, 64), (command, done.stdout, done.stderr)
        assert SECRET not in done.stdout + done.stderr, (command, done.stdout, done.stderr)
        assert done.stderr.strip(), command


@pytest.mark.parametrize("url", REDIS_URLS)
def test_unreachable_redis(tree: Path, url: str) -> None:
    db = f"sqlite:///{tree / 'db.sqlite'}"
    if "?password=" in url:
        # The Settings of every invocation refuse it (Celery's broker cannot read it, so
        # the beat and the workers would refuse it too): a settings error, masked.
        done = run("--database-url", db, "--redis-url", url, "apply", cwd=tree, check=64)
        assert "password in the query" in done.stderr
        assert SECRET not in done.stdout + done.stderr
        return
    done = run("--database-url", db, "--redis-url", url, "apply", cwd=tree, check=0)
    assert "could not be told" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    status = run("--database-url", db, "--redis-url", url, "status", cwd=tree, check=None)
    assert SECRET not in status.stdout + status.stderr, (status.stdout, status.stderr)


def test_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    log = logging.getLogger("celeryapp.beat")
    with caplog.at_level(logging.INFO):
        log.error("cannot load schedules from %s", f"postgresql://bob:{SECRET}@db/x")
        try:
            raise ValueError(f"redis://:{SECRET}@cache:6379/0 refused")
        except ValueError:
            log.exception("lost Redis")
    text = caplog.text
    assert "postgresql://bob:***@db/x" in text and "redis://:***@cache" in text
    assert SECRET not in text

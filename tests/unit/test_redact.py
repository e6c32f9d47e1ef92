"""One redaction for every URL, DSN and message that can reach output or a log."""

from __future__ import annotations

import pytest

from celeryapp.redact import redact_url

SECRET = "s3cr3t-Pw"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql://bob:s3cr3t-Pw@db:5432/app", "postgresql://bob:***@db:5432/app"),
        ("postgresql+psycopg://bob:s3cr3t-Pw@db/app", "postgresql+psycopg://bob:***@db/app"),
        ("db+postgresql://bob:s3cr3t-Pw@db/app", "db+postgresql://bob:***@db/app"),
        ("postgresql://bob:p@s3cr3t-Pw@db/app", "postgresql://bob:***@db/app"),
        ("postgresql://bob:a/s3cr3t-Pw@db/app", "postgresql://bob:***@db/app"),
        ("postgresql://bob@db/app?password=s3cr3t-Pw", "postgresql://bob@db/app?password=***"),
        (
            "postgresql://db/app?sslmode=require&password=s3cr3t-Pw&x=1",
            "postgresql://db/app?sslmode=require&password=***&x=1",
        ),
        ("redis://:s3cr3t-Pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache:6379/0?password=s3cr3t-Pw", "redis://cache:6379/0?password=***"),
        ("rediss://user:s3cr3t-Pw@cache:6380/0", "rediss://user:***@cache:6380/0"),
        (
            "redis+sentinel://:s3cr3t-Pw@s1:26379,:s3cr3t-Pw@s2:26379/mymaster/0",
            "redis+sentinel://:***@s1:26379,:***@s2:26379/mymaster/0",
        ),
        (
            "sentinel://:s3cr3t-Pw@s1:26379;sentinel://:s3cr3t-Pw@s2:26379",
            "sentinel://:***@s1:26379;sentinel://:***@s2:26379",
        ),
        ("amqp://guest:s3cr3t-Pw@mq:5672//", "amqp://guest:***@mq:5672//"),
        (
            "host=db user=bob password=s3cr3t-Pw dbname=app",
            "host=db user=bob password=*** dbname=app",
        ),
        ("host=db password = 's3cr3t-Pw with space'", "host=db password = ***"),
        ("mysql+pymysql://root:s3cr3t-Pw@db/x", "mysql+pymysql://root:***@db/x"),
        ("sqlite:///syncd.db", "sqlite:///syncd.db"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("postgresql://bob@db/app", "postgresql://bob@db/app"),
    ],
)
def test_every_form(given: str, shown: str) -> None:
    assert redact_url(given) == shown
    assert SECRET not in redact_url(given)


def test_urls_and_dsns_inside_messages() -> None:
    message = (
        "Could not parse SQLAlchemy URL from string 'host=db password=s3cr3t-Pw' "
        "(connecting to redis://:s3cr3t-Pw@cache:6379/0); kwargs {'password': 's3cr3t-Pw'}"
    )
    out = redact_url(message)
    assert SECRET not in out
    assert "redis://:***@cache:6379/0" in out and "host=db" in out

"""The Redis URL forms (celeryapp.redisurl): Sentinel lists, kombu's broker form, TLS."""

from __future__ import annotations

import pytest

from celeryapp.app import broker_transport_options, broker_url
from celeryapp.redact import redact_url
from celeryapp.redisurl import (
    BadRedisURL,
    SentinelURL,
    kombu_sentinel,
    parse_sentinel,
    verified_tls,
)
from celeryapp.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://h1:26379,h2:26380/mymaster",
            SentinelURL((("h1", 26379), ("h2", 26380)), "mymaster"),
        ),
        (
            "redis+sentinel://:s%40cret@h1,h2:1/svc/3",
            SentinelURL((("h1", 26379), ("h2", 1)), "svc", 3, None, "s@cret"),
        ),
        (
            "redis+sentinel://app:pw@h1:2/svc/0?socket_timeout=1",
            SentinelURL((("h1", 2),), "svc", 0, "app", "pw"),
        ),
        (
            "redis+sentinel://[::1]:26379,127.0.0.1:26380/m",
            SentinelURL((("::1", 26379), ("127.0.0.1", 26380)), "m"),
        ),
    ],
)
def test_sentinel_urls(url: str, expected: SentinelURL) -> None:
    assert parse_sentinel(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1:26379",  # no service
        "redis+sentinel:///svc",  # no host
        "redis+sentinel://h1:x/svc",
        "redis+sentinel://h1:1/svc/db",
        "redis+sentinel://h1:1/svc/0/extra",
        "redis://h1/0",
    ],
)
def test_bad_sentinel_urls(url: str) -> None:
    with pytest.raises(BadRedisURL):
        parse_sentinel(url)


def test_kombu_form_of_a_sentinel_url() -> None:
    assert kombu_sentinel("redis+sentinel://:p%3Bw@h1:1,h2:2/svc/4") == (
        "sentinel://:p%3Bw@h1:1;sentinel://:p%3Bw@h2:2/4",
        "svc",
    )
    assert kombu_sentinel("redis+sentinel://h1:1/svc") == ("sentinel://h1:1/0", "svc")


def test_tls_is_verified_unless_the_url_says_otherwise() -> None:
    assert verified_tls("rediss://h:6380/0") == "rediss://h:6380/0?ssl_cert_reqs=required"
    assert (
        verified_tls("rediss://h/0?ssl_ca_certs=/ca.pem")
        == "rediss://h/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required"
    )
    assert verified_tls("rediss://h/0?ssl_cert_reqs=none") == "rediss://h/0?ssl_cert_reqs=none"
    assert verified_tls("redis://h/0") == "redis://h/0"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"SYNCD_DATABASE_URL": "sqlite:///:memory:", **env})


def test_the_broker_follows_a_sentinel_redis_url() -> None:
    settings = _settings(
        SYNCD_REDIS_URL="redis+sentinel://h1:1,h2:2/mymaster/1", CELERY_BROKER_PREFIX="t"
    )
    assert broker_url(settings) == "sentinel://h1:1;sentinel://h2:2/1"
    assert broker_transport_options(settings) == {
        "master_name": "mymaster",
        "global_keyprefix": "t:",
    }


def test_a_bad_sentinel_url_is_a_setting_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"SYNCD_REDIS_URL.*SERVICE"):
        _settings(SYNCD_REDIS_URL="redis+sentinel://:secret@h1:1")
    with pytest.raises(SettingsError, match="CELERY_BROKER_URL") as caught:
        _settings(CELERY_BROKER_URL="redis+sentinel://:secret@h1:1")
    assert "secret" not in str(caught.value)


def test_neither_form_of_a_sentinel_url_prints_its_password() -> None:
    url = "redis+sentinel://:s3cret@h1:1,h2:2/svc/0"
    kombu_url, _ = kombu_sentinel(url)
    for text in (url, kombu_url):
        assert "s3cret" not in redact_url(text)

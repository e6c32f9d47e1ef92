"""Settings are checked once, at start-up, and an error names the variable."""

from __future__ import annotations

import pytest

from celeryapp.settings import MAX_TABLE_NAME, Settings, SettingsError

NUMERIC = [
    "SYNCD_BEAT_MAX_INTERVAL",
    "SYNCD_BEAT_LOCK_TTL",
    "SYNCD_BEAT_POLL_INTERVAL",
    "SYNCD_LEDGER_RETENTION_DAYS",
    "SYNCD_ONCE_RETENTION",
    "SYNCD_TASK_MAX_RETRIES",
    "SYNCD_TASK_RETRY_BACKOFF",
    "SYNCD_TASK_RETRY_BACKOFF_MAX",
    "SYNCD_RESULT_EXPIRES",
]


@pytest.mark.parametrize("key", NUMERIC)
@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf", "1e999", "0x10", "1_000x"])
def test_bad_numbers_name_the_variable(key: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_env({key: raw})


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("SYNCD_TIMEZONE", "Mars/Base"),
        ("SYNCD_TIMEZONE", "utc "),
        ("SYNCD_TIMEZONE", "../../etc/passwd"),
        ("SYNCD_TIMEZONE", "posix/Europe/Berlin"),
        ("SYNCD_TIMEZONE", "localtime"),  # refused in schedules too: one rule
        ("SYNCD_TIMEZONE", "Factory"),
        ("SYNCD_TABLE_NAME", "t" * (MAX_TABLE_NAME + 1)),
        ("SYNCD_TABLE_NAME", "t" * 64),
        ("SYNCD_TABLE_NAME", "1table"),
        ("SYNCD_TABLE_NAME", 'x"; DROP TABLE y; --'),
        ("SYNCD_TABLE_NAME", "sched-ules"),
        ("SYNCD_DATABASE_URL", "host=db user=bob password=s3cret dbname=x"),
        ("SYNCD_DATABASE_URL", "postgresql://bob:p@ss@db/x"),
        ("CELERY_BROKER_URL", "redis://cache:6379/0?password=s3cret"),
        ("SYNCD_REDIS_URL", "rediss://cache:6380/0?ssl_cert_reqs=none&password=s3cret"),
    ],
)
def test_bad_names_and_urls_name_the_variable(key: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=key) as caught:
        Settings.from_env({key: raw})
    assert "s3cret" not in str(caught.value) and "ss@db" not in str(caught.value)


def test_good_values_pass() -> None:
    settings = Settings.from_env(
        {
            "SYNCD_TIMEZONE": "America/New_York",
            "SYNCD_TABLE_NAME": "t" * MAX_TABLE_NAME,
            "SYNCD_BEAT_LOCK_TTL": " 2.5 ",
            "SYNCD_TASK_MAX_RETRIES": "0",
            "SYNCD_DATABASE_URL": "postgresql://bob:p%40ss@db/x",
        }
    )
    assert settings.beat_lock_ttl == 2.5 and settings.task_max_retries == 0
    assert settings.timezone == "America/New_York"


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("SYNCD_BEAT_METRICS_PORT", "0"),
        ("SYNCD_BEAT_METRICS_PORT", "65536"),
        ("SYNCD_BEAT_METRICS_PORT", "http"),
        ("SYNCD_BEAT_METRICS_ADDRESS", "localhost"),
        ("SYNCD_BEAT_METRICS_ADDRESS", "0.0.0.0:9100"),
        ("SYNCD_BEAT_METRICS_PER_SCHEDULE", "maybe"),
    ],
)
def test_bad_metrics_settings_name_the_variable(key: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_env({key: raw})


def test_beat_metrics_are_off_by_default_and_per_schedule_on() -> None:
    default = Settings.from_env({})
    assert default.beat_metrics_port is None
    assert default.beat_metrics_address == "127.0.0.1"
    assert default.beat_metrics_per_schedule
    on = Settings.from_env(
        {
            "SYNCD_BEAT_METRICS_PORT": "9808",
            "SYNCD_BEAT_METRICS_ADDRESS": "::",
            "SYNCD_BEAT_METRICS_PER_SCHEDULE": "false",
        }
    )
    assert on.beat_metrics_port == 9808 and on.beat_metrics_address == "::"
    assert not on.beat_metrics_per_schedule


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5", "2000"])
def test_bad_shard_counts_name_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="SYNCD_BEAT_SHARDS"):
        Settings.from_env({"SYNCD_BEAT_SHARDS": raw, "SYNCD_REDIS_URL": "redis://x:6379/0"})


def test_shards_default_to_one_and_more_need_redis() -> None:
    assert Settings.from_env({}).beat_shards == 1
    assert Settings.from_env({"SYNCD_BEAT_SHARDS": "1"}).beat_shards == 1
    with pytest.raises(SettingsError, match="SYNCD_BEAT_SHARDS=4 needs SYNCD_REDIS_URL"):
        Settings.from_env({"SYNCD_BEAT_SHARDS": "4"})
    env = {"SYNCD_BEAT_SHARDS": "4", "SYNCD_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert Settings.from_env(env).beat_shards == 4

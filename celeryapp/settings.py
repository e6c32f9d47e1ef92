"""Every setting of the run side and the CLI, read from the environment in one place.

Documented in docs/settings.md; the names are the contract with docker-compose.yml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "sqlite:///syncd.db"
DEFAULT_TABLE_NAME = "sys_task_scheduler"
DEFAULT_REDIS_PREFIX = "syncd"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_BROKER_DIR = ".syncd-broker"


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    return default if raw in (None, "") else int(raw)


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    return default if raw in (None, "") else float(raw)


def sqlalchemy_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3, whatever driver the user wrote (or none)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs, errors and plan output."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    table_name: str = DEFAULT_TABLE_NAME
    broker_url: str | None = None
    result_backend: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    # Beat: seconds between ticks at most, lock TTL, database revision poll.
    beat_max_interval: float = 1.0
    beat_lock_ttl: float = 3.0
    beat_poll_interval: float = 2.0
    ledger_retention_days: int = 7
    # Seconds a beat task id stays marked as executed (once-only). Redeliveries come within
    # the broker's visibility timeout (an hour on Redis); one key per run, so not forever.
    once_retention: int = 86400
    task_max_retries: int = 5
    # Retry backoff of transient database errors: base * 2**retries, capped, with jitter.
    task_retry_backoff: float = 1.0
    task_retry_backoff_max: float = 60.0
    result_expires: int = 7 * 24 * 3600
    # Redis broker key prefix (kombu global_keyprefix): isolates queues per test or tenant.
    broker_prefix: str | None = None
    # Directory of the embedded filesystem broker used when no broker URL is set.
    broker_dir: str = DEFAULT_BROKER_DIR

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        database_url = sqlalchemy_url(env.get("SYNCD_DATABASE_URL") or DEFAULT_DATABASE_URL)
        redis_url = env.get("SYNCD_REDIS_URL") or None
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            redis_prefix=env.get("SYNCD_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX,
            table_name=env.get("SYNCD_TABLE_NAME") or DEFAULT_TABLE_NAME,
            broker_url=env.get("CELERY_BROKER_URL") or redis_url,
            result_backend=env.get("CELERY_RESULT_BACKEND") or f"db+{database_url}",
            timezone=env.get("SYNCD_TIMEZONE") or DEFAULT_TIMEZONE,
            beat_max_interval=_float(env, "SYNCD_BEAT_MAX_INTERVAL", 1.0),
            beat_lock_ttl=_float(env, "SYNCD_BEAT_LOCK_TTL", 3.0),
            beat_poll_interval=_float(env, "SYNCD_BEAT_POLL_INTERVAL", 2.0),
            ledger_retention_days=_int(env, "SYNCD_LEDGER_RETENTION_DAYS", 7),
            once_retention=_int(env, "SYNCD_ONCE_RETENTION", 86400),
            task_max_retries=_int(env, "SYNCD_TASK_MAX_RETRIES", 5),
            task_retry_backoff=_float(env, "SYNCD_TASK_RETRY_BACKOFF", 1.0),
            task_retry_backoff_max=_float(env, "SYNCD_TASK_RETRY_BACKOFF_MAX", 60.0),
            result_expires=_int(env, "SYNCD_RESULT_EXPIRES", 7 * 24 * 3600),
            broker_prefix=env.get("CELERY_BROKER_PREFIX") or None,
            broker_dir=env.get("SYNCD_BROKER_DIR") or DEFAULT_BROKER_DIR,
        )


def revision_key(prefix: str) -> str:
    """Redis key (and pub/sub channel) holding the latest applied revision number."""
    return f"{prefix}:revision"


def lock_key(prefix: str) -> str:
    return f"{prefix}:beat:lock"


def heartbeat_key(prefix: str) -> str:
    return f"{prefix}:beat:heartbeat"


def executed_key(prefix: str, task_id: str) -> str:
    """Set (NX, with expiry) by the first execution of a beat task id: once-only execution."""
    return f"{prefix}:executed:{task_id}"


def running_key(prefix: str, schedule: str) -> str:
    """Held while a run of an `overlap: skip` schedule executes."""
    return f"{prefix}:running:{schedule}"

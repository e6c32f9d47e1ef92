"""Every setting of the run side and the CLI, read from the environment in one place.

Documented in docs/settings.md; the names are the contract with docker-compose.yml.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celeryapp.redact import redact_url

DEFAULT_DATABASE_URL = "sqlite:///syncd.db"
DEFAULT_TABLE_NAME = "sys_task_scheduler"
DEFAULT_REDIS_PREFIX = "syncd"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_BROKER_DIR = ".syncd-broker"
DEFAULT_METRICS_ADDRESS = "127.0.0.1"
EXIT_USAGE = 64  # the CLI's code for a usage error (syncd.errors), for the celery processes


class SettingsError(ValueError):
    """A setting is not valid; the message names the variable and says what it must be."""


def _number(env: Mapping[str, str], key: str, default: float, kind: type, low: float) -> Any:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{key}={raw!r:.40} is not {what}") from None
    if not math.isfinite(value) or value < low:
        raise SettingsError(f"{key}={raw!r:.40} must be {what} of at least {low:g}")
    return value


def _int(env: Mapping[str, str], key: str, default: int, low: int = 0) -> int:
    return int(_number(env, key, default, int, low))


def _float(env: Mapping[str, str], key: str, default: float, low: float = 0.0) -> float:
    return float(_number(env, key, default, float, low))


def _port(env: Mapping[str, str], key: str) -> int | None:
    """A TCP port (1-65535), or None when unset."""
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return None
    port = _int(env, key, 0, low=1)
    if port > 65535:
        raise SettingsError(f"{key}={raw!r:.40} is not a TCP port (1 to 65535)")
    return port


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(env: Mapping[str, str], key: str, *, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise SettingsError(f"{key}={raw!r:.40} is not true or false")
    return value in _TRUE


def check_address(address: str, key: str) -> str:
    """An address to bind: an IPv4 or IPv6 literal (a host name would bind wherever it
    resolves today)."""
    import ipaddress

    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise SettingsError(
            f"{key}={address!r:.80} is not an IP address to listen on "
            "(127.0.0.1, 0.0.0.0 for every interface, or ::)"
        ) from None
    return address.strip("[]")


# PostgreSQL keeps 63 bytes of an identifier and cuts the rest silently, so a longer name
# is not the table it looks up. The table's constraints are named `uq_{table}_name`, which
# must fit as well: 55 characters at most.
MAX_TABLE_NAME = 63 - len("uq__name")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_table_name(name: str, key: str = "SYNCD_TABLE_NAME") -> str:
    if not _IDENTIFIER.fullmatch(name) or len(name) > MAX_TABLE_NAME:
        raise SettingsError(
            f"{key}={name!r:.80} is not a table name: use letters, digits and _ (not first a "
            f"digit), at most {MAX_TABLE_NAME} characters"
        )
    return name


def check_timezone(name: str, key: str = "SYNCD_TIMEZONE") -> str:
    from celeryapp.timezones import HOST_DEPENDENT, is_timezone

    if name in HOST_DEPENDENT:
        raise SettingsError(
            f"{key}={name!r} {HOST_DEPENDENT[name]}; name the zone, like Europe/Berlin"
        )
    if not is_timezone(name):
        raise SettingsError(
            f"{key}={name!r:.80} is not an IANA time zone (like UTC or Europe/Berlin)"
        )
    return name


def check_broker_url(url: str | None) -> str | None:
    """kombu cannot read a Redis password from the query (`?password=`): every celery
    process would die with a TypeError at its first connection."""
    if url and url.startswith(("redis", "rediss")) and re.search(r"[?&]password=", url):
        raise SettingsError(
            f"CELERY_BROKER_URL (or SYNCD_REDIS_URL, its default) {redact_url(url)} has the "
            "password in the query, which Celery's broker cannot read; write it as "
            "redis://:PASSWORD@HOST:PORT/DB"
        )
    return url


def check_redis_url(url: str | None, key: str) -> str | None:
    """A redis+sentinel:// URL must name its Sentinels and service (celeryapp.redisurl)."""
    from celeryapp.redisurl import BadRedisURL, is_sentinel, parse_sentinel

    if url and is_sentinel(url):
        try:
            parse_sentinel(url, f"{key} ({redact_url(url)})")
        except BadRedisURL as exc:
            raise SettingsError(str(exc)) from None
    return url


def check_database_url(url: str, key: str = "SYNCD_DATABASE_URL") -> str:
    """A database URL SQLAlchemy reads as meant. It splits user:password@host at the first
    @ while Redis and libpq split at the last, so a password with an unencoded @ would
    connect to a host made of the password's tail (and print it in the error)."""
    scheme, sep, rest = url.partition("://")
    authority = rest.split("/", 1)[0] if sep else ""
    if authority.count("@") > 1:
        raise SettingsError(
            f"{key} ({redact_url(url)}) has an unencoded @ in its user or password; write it as %40"
        )
    if not sep or not scheme:
        raise SettingsError(
            f"{key} ({redact_url(url)}) is not a database URL; write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DB, mysql+pymysql://... or sqlite:///PATH "
            "(a libpq key=value DSN is not accepted)"
        )
    return url


MAX_SHARDS = 1024


def check_shards(shards: int, redis_url: str | None) -> int:
    """Sharded beats lock each shard and find each other on Redis: no database lease
    form exists for them, so N > 1 without SYNCD_REDIS_URL is refused, not ignored."""
    if shards > MAX_SHARDS:
        raise SettingsError(f"SYNCD_BEAT_SHARDS={shards} must be at most {MAX_SHARDS}")
    if shards > 1 and not redis_url:
        raise SettingsError(
            f"SYNCD_BEAT_SHARDS={shards} needs SYNCD_REDIS_URL: the shard locks and the "
            "live beats are kept in Redis; set SYNCD_REDIS_URL or SYNCD_BEAT_SHARDS=1"
        )
    return shards


def sqlalchemy_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3 and MySQL/MariaDB URLs without a driver to pymysql,
    whatever the user wrote; MySQL/MariaDB connections speak utf8mb4 unless the URL says
    otherwise (MySQL's `utf8` is three bytes a character: no emoji in a description)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    for prefix in ("mysql://", "mariadb://"):
        if url.startswith(prefix):
            url = "mysql+pymysql://" + url[len(prefix) :]
    if url.startswith(("mysql+", "mariadb+")) and not re.search(r"[?&]charset=", url):
        url += ("&" if "?" in url else "?") + "charset=utf8mb4"
    return url


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
    # The beat's Prometheus listener (celeryapp.beatmetrics): off without a port.
    beat_metrics_port: int | None = None
    beat_metrics_address: str = DEFAULT_METRICS_ADDRESS
    # One series per schedule (`syncd_schedule_last_dispatch_timestamp_seconds`); turn off
    # for very large tables.
    beat_metrics_per_schedule: bool = True
    # Sharded beats (celeryapp.shards): the table is split into this many shards, each
    # with its own lock; N > 1 needs Redis (the shard locks and the live-beat set).
    beat_shards: int = 1

    @classmethod
    def from_env_or_exit(cls, env: Mapping[str, str] | None = None) -> Settings:
        """`from_env` for a process starting up (beat, worker, Flower): an invalid setting
        ends it with the message and exit 64, not a traceback from deep inside Celery."""
        try:
            return cls.from_env(env)
        except SettingsError as exc:
            sys.stderr.write(f"error: {exc}\n")
            raise SystemExit(EXIT_USAGE) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of this environment, each checked: SettingsError names the
        variable of the first one that is not valid."""
        env = os.environ if env is None else env
        database_url = sqlalchemy_url(
            check_database_url(env.get("SYNCD_DATABASE_URL") or DEFAULT_DATABASE_URL)
        )
        redis_url = check_redis_url(env.get("SYNCD_REDIS_URL") or None, "SYNCD_REDIS_URL")
        shards = check_shards(_int(env, "SYNCD_BEAT_SHARDS", 1, low=1), redis_url)
        return cls(
            database_url=database_url,
            redis_url=redis_url,
            redis_prefix=env.get("SYNCD_REDIS_PREFIX") or DEFAULT_REDIS_PREFIX,
            table_name=check_table_name(env.get("SYNCD_TABLE_NAME") or DEFAULT_TABLE_NAME),
            broker_url=check_broker_url(
                check_redis_url(env.get("CELERY_BROKER_URL"), "CELERY_BROKER_URL") or redis_url
            ),
            result_backend=env.get("CELERY_RESULT_BACKEND") or f"db+{database_url}",
            timezone=check_timezone(env.get("SYNCD_TIMEZONE") or DEFAULT_TIMEZONE),
            beat_max_interval=_float(env, "SYNCD_BEAT_MAX_INTERVAL", 1.0, low=0.01),
            beat_lock_ttl=_float(env, "SYNCD_BEAT_LOCK_TTL", 3.0, low=0.1),
            beat_poll_interval=_float(env, "SYNCD_BEAT_POLL_INTERVAL", 2.0, low=0.01),
            ledger_retention_days=_int(env, "SYNCD_LEDGER_RETENTION_DAYS", 7, low=1),
            once_retention=_int(env, "SYNCD_ONCE_RETENTION", 86400, low=1),
            task_max_retries=_int(env, "SYNCD_TASK_MAX_RETRIES", 5),
            task_retry_backoff=_float(env, "SYNCD_TASK_RETRY_BACKOFF", 1.0),
            task_retry_backoff_max=_float(env, "SYNCD_TASK_RETRY_BACKOFF_MAX", 60.0),
            result_expires=_int(env, "SYNCD_RESULT_EXPIRES", 7 * 24 * 3600),
            broker_prefix=env.get("CELERY_BROKER_PREFIX") or None,
            broker_dir=env.get("SYNCD_BROKER_DIR") or DEFAULT_BROKER_DIR,
            beat_metrics_port=_port(env, "SYNCD_BEAT_METRICS_PORT"),
            beat_metrics_address=check_address(
                env.get("SYNCD_BEAT_METRICS_ADDRESS") or DEFAULT_METRICS_ADDRESS,
                "SYNCD_BEAT_METRICS_ADDRESS",
            ),
            beat_metrics_per_schedule=_bool(env, "SYNCD_BEAT_METRICS_PER_SCHEDULE", default=True),
            beat_shards=shards,
        )


def revision_key(prefix: str) -> str:
    """Redis key (and pub/sub channel) holding the latest applied revision number."""
    return f"{prefix}:revision"


def lock_key(prefix: str, shards: int = 1, shard: int = 0) -> str:
    """The beat lock; with N > 1 shards, the lock of shard `shard` (N is in the key, so
    beats configured with another N never share a lock)."""
    if shards <= 1:
        return f"{prefix}:beat:lock"
    return f"{prefix}:beat:lock:{shards}:{shard}"


def beats_key(prefix: str, shards: int) -> str:
    """Sorted set of the live sharded beats, scored by their last heartbeat (epoch s)."""
    return f"{prefix}:beat:beats:{shards}"


def handoff_key(prefix: str, shards: int, shard: int) -> str:
    """Written by a beat giving shard `shard` to another live beat: the instant up to
    which it dispatched (docs/beat.md, Sharded beats)."""
    return f"{prefix}:beat:handoff:{shards}:{shard}"


# `syncd status` calls a heartbeat older than this stale (a beat writes one every tick).
MAX_HEARTBEAT_AGE = 30.0


def heartbeat_key(prefix: str) -> str:
    return f"{prefix}:beat:heartbeat"


def executed_key(prefix: str, task_id: str) -> str:
    """Set (NX, with expiry) by the first execution of a beat task id: once-only execution."""
    return f"{prefix}:executed:{task_id}"


def running_key(prefix: str, schedule: str) -> str:
    """Held while a run of an `overlap: skip` or `buffer_one` schedule executes."""
    return f"{prefix}:running:{schedule}"


def buffered_key(prefix: str, schedule: str) -> str:
    """Held by the one run of an `overlap: buffer_one` schedule waiting for the running
    one to end."""
    return f"{prefix}:buffered:{schedule}"

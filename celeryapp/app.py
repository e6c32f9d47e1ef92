"""The Celery app: `celery -A celeryapp.app worker -P gevent -c 100` (also `beat`, `flower`).

Everything comes from `Settings.from_env()` (docs/settings.md), so the three processes need
no flags. Choices that differ from Celery's defaults, and why:

* JSON only, for tasks, results and events: nothing read from the broker or the result
  table is ever unpickled (fba W15 stored results with PickleType).
* `enable_utc` with the app timezone: instants on the wire are UTC; the zone only names
  wall-clock times in logs (fba ran with enable_utc False and local strings, W14).
* no broker URL at all (neither CELERY_BROKER_URL nor SYNCD_REDIS_URL): kombu's filesystem
  transport in SYNCD_BROKER_DIR, so the demo runs with no server. It is for one machine
  and light traffic; production uses Redis or RabbitMQ.
* the result backend is the database (`db+` the database URL, psycopg 3 for PostgreSQL)
  with extended results, so a run's name, args, worker and retries are queryable in SQL.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

from celeryapp.redact import install_log_redaction
from celeryapp.redisurl import is_sentinel, kombu_sentinel, verified_tls
from celeryapp.settings import Settings

install_log_redaction()  # before Celery logs anything: no URL password in any log line

TASK_PACKAGES = ["celeryapp.tasks"]


def broker_url(settings: Settings) -> str:
    """kombu's URL for the broker: a redis+sentinel:// URL in kombu's `sentinel://` form
    (its service in `broker_transport_options`), a rediss:// URL verifying the server."""
    url = settings.broker_url or "filesystem://"
    if is_sentinel(url):
        return kombu_sentinel(url)[0]
    return verified_tls(url)


def is_redis_url(url: str) -> bool:
    return url.startswith(
        ("redis://", "rediss://", "redis+socket://", "unix://", "sentinel://", "redis+sentinel://")
    )


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    url = broker_url(settings)
    if url.startswith("filesystem://"):
        root = os.path.abspath(settings.broker_dir)
        data, control = os.path.join(root, "data"), os.path.join(root, "control")
        for folder in (data, control):
            os.makedirs(folder, exist_ok=True)
        # One folder for both directions: every process publishes and consumes there.
        return {"data_folder_in": data, "data_folder_out": data, "control_folder": control}
    options: dict[str, Any] = {}
    if settings.broker_url and is_sentinel(settings.broker_url):
        options["master_name"] = kombu_sentinel(settings.broker_url)[1]
    if is_redis_url(url) and settings.broker_prefix:
        options["global_keyprefix"] = f"{settings.broker_prefix}:"
    return options


def database_engine_options(settings: Settings) -> dict[str, Any]:
    backend = settings.result_backend or f"db+{settings.database_url}"
    # Survive a database restart between tasks instead of failing the next result write.
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend.startswith(("db+postgresql", "db+mysql", "db+mariadb")):
        # A gevent worker runs up to 100 tasks at once, each writing STARTED and its result:
        # SQLAlchemy's default 5 (+10) connections would make them queue for the pool.
        options.update(pool_size=20, max_overflow=30)
    return options


def config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for these settings (pure apart from the broker folder)."""
    return {
        "broker_url": broker_url(settings),
        "broker_transport_options": broker_transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "result_backend": settings.result_backend or f"db+{settings.database_url}",
        "result_extended": True,
        "result_expires": settings.result_expires,
        "database_engine_options": database_engine_options(settings),
        # One result backend per worker process instead of one per thread (greenlet, under
        # gevent): together with pool_result_connections it gives the process one bounded
        # connection pool instead of a connection per task.
        "result_backend_thread_safe": True,
        "task_track_started": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": settings.timezone,
        "enable_utc": True,
        "beat_scheduler": "celeryapp.scheduler:DatabaseScheduler",
        "beat_max_loop_interval": settings.beat_max_interval,
        # Flower needs worker events; sent events show queued tasks too.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
    }


def make_app(settings: Settings) -> Celery:
    """A configured app; `syncd trigger` builds one from its own options."""
    celery = Celery("syncd", task_cls="celeryapp.base:TaskBase")
    celery.conf.update(config(settings))
    # Kept off app.conf on purpose: `celery inspect conf` would print the URLs in it.
    celery.syncd_settings = settings
    return celery


def pool_result_connections(sender: Any = None, **_: Any) -> None:
    """Use the pooled engine of `database_engine_options` in every worker.

    Celery's database backend only pools connections in a forked child (prefork); in a
    gevent or threads worker it opens a new connection for every result write, so 100
    tasks at once took 100+ connections and exhausted PostgreSQL's max_connections
    (seen in CI). Marking its session manager as forked makes it build one engine with
    pool_size + max_overflow connections, which the tasks share and wait for.
    """
    app_ = getattr(sender, "app", None)
    manager = getattr(getattr(app_, "backend", None), "session_manager", None)
    if manager is not None:
        manager.forked = True


worker_init.connect(pool_result_connections, weak=False)

app = make_app(Settings.from_env_or_exit())
app.autodiscover_tasks(TASK_PACKAGES, related_name=None, force=True)

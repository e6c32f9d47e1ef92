"""The Celery configuration derived from Settings (no broker is contacted)."""

from __future__ import annotations

from pathlib import Path

from celeryapp.app import config, make_app
from celeryapp.base import TaskBase
from celeryapp.settings import Settings


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SYNCD_BROKER_DIR": str(tmp_path / "broker"), **env})


def test_json_only_utc_database_results_and_the_database_beat(tmp_path: Path) -> None:
    conf = config(settings(tmp_path, SYNCD_DATABASE_URL="postgresql://u:pw@db/x"))
    assert conf["accept_content"] == ["json"]
    assert conf["result_accept_content"] == ["json"]
    assert conf["task_serializer"] == conf["result_serializer"] == "json"
    assert conf["enable_utc"] is True
    assert conf["result_backend"] == "db+postgresql+psycopg://u:pw@db/x"
    assert conf["result_extended"] is True
    assert conf["task_track_started"] is True
    assert conf["beat_scheduler"] == "celeryapp.scheduler:DatabaseScheduler"
    assert conf["worker_send_task_events"] is True
    assert conf["broker_connection_retry_on_startup"] is True
    assert conf["database_engine_options"]["pool_pre_ping"] is True


def test_the_redis_url_is_the_default_broker_with_an_optional_key_prefix(
    tmp_path: Path,
) -> None:
    conf = config(settings(tmp_path, SYNCD_REDIS_URL="redis://h:6379/0", CELERY_BROKER_PREFIX="t1"))
    assert conf["broker_url"] == "redis://h:6379/0"
    assert conf["broker_transport_options"] == {"global_keyprefix": "t1:"}


def test_an_explicit_broker_url_wins_and_amqp_gets_no_key_prefix(tmp_path: Path) -> None:
    conf = config(
        settings(
            tmp_path,
            SYNCD_REDIS_URL="redis://h:6379/0",
            CELERY_BROKER_URL="amqp://guest:guest@h:5672//",
            CELERY_BROKER_PREFIX="t1",
        )
    )
    assert conf["broker_url"] == "amqp://guest:guest@h:5672//"
    assert conf["broker_transport_options"] == {}


def test_without_any_broker_url_the_embedded_filesystem_broker_is_used(tmp_path: Path) -> None:
    conf = config(settings(tmp_path))
    assert conf["broker_url"] == "filesystem://"
    options = conf["broker_transport_options"]
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Path(options["data_folder_in"]).is_dir()
    assert Path(options["control_folder"]).is_dir()
    assert conf["result_backend"] == "db+sqlite:///syncd.db"


def test_the_app_uses_the_task_base_class_and_keeps_settings_off_its_conf(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, SYNCD_DATABASE_URL="postgresql://u:secret@db/x")
    app = make_app(s)
    try:

        @app.task(name="t.noop")
        def noop() -> None:
            return None

        assert isinstance(app.tasks["t.noop"], TaskBase)
        assert app.syncd_settings is s
        assert "syncd_settings" not in app.conf
    finally:
        app.close()


def test_the_default_app_registers_the_example_tasks() -> None:
    from celeryapp.app import app

    for name in ("echo", "sleep", "async_echo", "async_sleep"):
        assert f"celeryapp.tasks.{name}" in app.tasks


def test_example_tasks_run_in_process() -> None:
    from celeryapp.tasks.examples import async_echo, echo

    assert echo(1, a=2) == {"args": [1], "kwargs": {"a": 2}}
    assert async_echo(1, a=2) == {"args": [1], "kwargs": {"a": 2}}

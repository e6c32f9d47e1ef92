"""No Docker engine here: check docker-compose.yml against the CLI, the Makefile and the
documented settings, so the file users run stays true to the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.commands import check_program

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


THIRD_PARTY = ("postgres", "redis", "rabbitmq")
SECRETS = ("POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH")


def test_every_command_exists() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name in THIRD_PARTY:
            continue
        check_program(name, service["command"])
        test = (service.get("healthcheck") or {}).get("test")
        if test:
            # compose turns $$ into $ before the shell sees the line
            argv = ["sh", "-c", test[1].replace("$$", "$")] if test[0] == "CMD-SHELL" else test[1:]
            check_program(f"{name} healthcheck", argv)


def test_it_builds_the_projects_dockerfile() -> None:
    for name, service in compose()["services"].items():
        if name not in THIRD_PARTY:
            assert service["build"] == ".", name
    assert (REPO / "Dockerfile").is_file()


def test_beat_worker_and_flower_have_healthchecks() -> None:
    services = compose()["services"]
    for name in ("beat1", "beat2", "worker", "flower", "syncd"):
        assert services[name]["healthcheck"]["test"], name


def test_no_default_passwords_and_no_file_wide_required_variables() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    # `${VAR:?}` would stop `docker compose config` and every service, not only the one
    # that needs VAR: compose interpolates the whole file first.
    assert not re.search(r"\$\{[A-Z_]+:?\?", text)
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        assert all(use in ("", ":-") for use in uses), (secret, uses)  # no default value
    assert "syncd:syncd" not in text


def test_stack_shape_matches_the_design() -> None:
    services = compose()["services"]
    beats = [n for n, s in services.items() if "beat" in (s.get("command") or [])]
    assert len(beats) == 2
    worker = services["worker"]["command"]
    assert worker[worker.index("-P") + 1] == "gevent"
    assert worker[worker.index("-c") + 1] == "100"
    assert services["migrate"]["command"] == ["syncd", "migrate"]
    assert services["syncd"]["command"] == ["syncd", "serve"]  # the controller, pull mode
    assert services["syncd"]["environment"]["SYNCD_REPO"] == "${SYNCD_REPO:-}"  # no default
    assert services["syncd-watch"]["command"][:2] == ["syncd", "watch"]  # local development
    assert services["syncd-watch"]["profiles"] == ["watch"]
    assert "rabbitmq" in services["rabbitmq"]["profiles"]
    flower_env = services["flower"]["environment"]
    assert flower_env["FLOWER_URL_PREFIX"] == "flower"
    assert flower_env["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"  # the launcher refuses


def test_environment_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (REPO / "docs/settings.md").read_text()))
    for name, service in compose()["services"].items():
        if name in THIRD_PARTY:
            continue
        for variable in service.get("environment") or {}:
            assert variable in documented, (name, variable)


def test_makefile_and_compose_start_flower_the_same_way() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "-m celeryapp.flower" in makefile
    assert compose()["services"]["flower"]["command"] == ["python", "-m", "celeryapp.flower"]

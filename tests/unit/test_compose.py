"""No Docker engine here: check docker-compose.yml against the CLI, the Makefile and the
documented settings, so the file users run stays true to the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from syncd.cli import main

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_every_command_exists() -> None:
    services = compose()["services"]
    for name, service in services.items():
        command = service.get("command")
        if not command or name in ("postgres", "redis", "rabbitmq"):
            continue
        program = command[0]
        assert program in ("syncd", "celery", "python"), (name, command)
        if program == "syncd":
            assert command[1] in main.commands, (name, command)
        if program == "celery":
            assert command[1:3] == ["-A", "celeryapp.app"], (name, command)
        if program == "python":
            assert command[1:] == ["-m", "celeryapp.flower"]


def test_stack_shape_matches_the_design() -> None:
    services = compose()["services"]
    beats = [n for n, s in services.items() if "beat" in (s.get("command") or [])]
    assert len(beats) == 2
    worker = services["worker"]["command"]
    assert worker[worker.index("-P") + 1] == "gevent"
    assert worker[worker.index("-c") + 1] == "100"
    assert services["migrate"]["command"] == ["syncd", "migrate"]
    assert services["syncd"]["command"][:2] == ["syncd", "watch"]
    assert "rabbitmq" in services["rabbitmq"]["profiles"]
    flower_env = services["flower"]["environment"]
    assert flower_env["FLOWER_URL_PREFIX"] == "flower"
    assert ":?" in flower_env["FLOWER_BASIC_AUTH"]  # compose refuses to start without it


def test_environment_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (REPO / "docs/settings.md").read_text()))
    for name, service in compose()["services"].items():
        if name in ("postgres", "redis", "rabbitmq"):
            continue
        for variable in service.get("environment") or {}:
            assert variable in documented, (name, variable)


def test_makefile_and_compose_start_flower_the_same_way() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "-m celeryapp.flower" in makefile
    assert compose()["services"]["flower"]["command"] == ["python", "-m", "celeryapp.flower"]

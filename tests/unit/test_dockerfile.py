"""No Docker engine here: the Dockerfile's instructions are checked against the package
(tests/acceptance/test_installed_wheel.py runs its commands from the installed wheel)."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.commands import check_program
from tests.dockerfile import REPO, argv, healthcheck, stages


def test_multi_stage_and_the_runtime_gets_only_the_wheel() -> None:
    build, runtime = stages()
    assert build.name == "build"
    assert "python -m build" in " ".join(build.all("RUN"))
    copies = runtime.all("COPY")
    assert copies == ["--from=build /dist/*.whl /tmp/wheels/"]
    assert any("pip install" in run and "*.whl" in run for run in runtime.all("RUN"))


def test_runtime_runs_as_a_non_root_user_with_syncd_and_celery_on_path() -> None:
    runtime = stages()[-1]
    (user,) = runtime.all("USER")
    assert user not in ("root", "0")
    assert any("useradd" in run and "--uid 10001" in run for run in runtime.all("RUN"))
    env = " ".join(runtime.all("ENV"))
    assert "PATH=/opt/syncd/bin:$PATH" in env
    assert any("python -m venv /opt/syncd" in run for run in runtime.all("RUN"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "syncd" in scripts  # and celery comes with the celery dependency (installed test)


def test_healthcheck_and_cmd_are_real_commands() -> None:
    runtime = stages()[-1]
    check_program("HEALTHCHECK", healthcheck(runtime))
    (cmd,) = runtime.all("CMD")
    check_program("CMD", argv(cmd))


def test_every_copied_path_exists_and_passes_the_dockerignore() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                keep = negate
        return keep

    for stage in stages():
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _dest = copy.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert included(source), f"{source} is excluded by .dockerignore"
    assert not included(".venv") and not included(".git") and not included("tests")

"""yaml-language-server, installed from the npm registry, driven over its stdio protocol as
an editor drives it: completion of keys and values, a diagnostic on a typo'd key, hover
text, with the schema `syncd schema` prints; found by the modeline, by the documented file
patterns, and by the modeline `syncd export --out` writes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.lsp import Client, install_server
from tests.acceptance.terminal import clean_env, piped

MODELINE = "# yaml-language-server: $schema=../schemas/schedule.schema.json\n"
TYPO = """version: 1
schedules:
  - name: nightly
    task: reports.send
    cron: "0 2 * * *"
    qeue: reports
"""
# The file patterns docs/editors.md tells editors to map to the schema.
PATTERNS = ["*.schedules.yaml", "*.schedules.yml", "schedules/**/*.yaml", "schedules/**/*.yml"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed (.ci/run installs them from Debian)")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "syncd-tests"
    cache.mkdir(parents=True, exist_ok=True)
    return install_server(cache / "yaml-language-server-1.25.0")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project tree whose schema is what the installed `syncd schema` prints."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schedules").mkdir()
    printed = piped(tmp_path, "schema", env=clean_env(tmp_path))
    assert printed.returncode == 0
    (tmp_path / "schemas" / "schedule.schema.json").write_text(printed.stdout)
    return tmp_path


def _client(server: Path, project: Path, *, patterns: bool = False) -> Client:
    schema = (project / "schemas" / "schedule.schema.json").as_uri()
    yaml = {
        "validate": True,
        "completion": True,
        "hover": True,
        "schemaStore": {"enable": False},
        "schemas": {schema: PATTERNS} if patterns else {},
    }
    return Client(server, project, {"yaml": yaml})


@pytest.fixture
def by_modeline(server: Path, project: Path) -> Iterator[Client]:
    client = _client(server, project)
    yield client
    client.close()


def _typo_diagnostic(diagnostics: list[dict]) -> dict:  # type: ignore[type-arg]
    found = [d for d in diagnostics if "qeue" in d["message"]]
    assert len(found) == 1, diagnostics
    return found[0]


def test_a_typo_key_is_a_diagnostic_where_syncd_validate_puts_it(
    by_modeline: Client, project: Path
) -> None:
    path = project / "schedules" / "a.yaml"
    path.write_text(MODELINE + TYPO)
    typo = _typo_diagnostic(by_modeline.open(path, MODELINE + TYPO))
    start = typo["range"]["start"]
    validated = piped(project, "validate", env=clean_env(project))
    assert validated.returncode == 1
    # The same key, 0-based in LSP and 1-based in syncd: line 7, column 5.
    assert (start["line"] + 1, start["character"] + 1) == (7, 5)
    assert "schedules/a.yaml:7:5: error[schema.unknown-key]" in validated.stderr
    assert "did you mean 'queue'?" in validated.stderr


def test_keys_and_values_complete_and_hover_shows_the_reference(
    by_modeline: Client, project: Path
) -> None:
    text = MODELINE + TYPO.replace("    qeue: reports\n", "    \n    catchup: \n")
    path = project / "schedules" / "a.yaml"
    diagnostics = by_modeline.open(path, text)
    assert all("qeue" not in d["message"] for d in diagnostics)
    keys = by_modeline.complete(path, 6, 4)
    assert {"queue", "timezone", "enabled", "overlap", "description"} <= set(keys), keys
    assert not {"name", "cron", "catchup"} & set(keys)  # already there
    values = by_modeline.complete(path, 7, 13)
    assert {"latest", "skip"} <= set(values), values
    hover = by_modeline.hover(path, 5, 5)
    assert "`minute hour day-of-month month day-of-week`" in hover, hover  # markdown


def test_the_documented_file_patterns_need_no_modeline(server: Path, project: Path) -> None:
    client = _client(server, project, patterns=True)
    try:
        for relative in ("ops.schedules.yaml", "schedules/team/a.yaml"):
            path = project / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TYPO)
            _typo_diagnostic(client.open(path, TYPO))
        other = project / "values.yaml"
        assert client.open(other, TYPO) == []  # not a schedules file: no schema
    finally:
        client.close()


def test_the_modeline_export_writes_works_in_the_editor(by_modeline: Client, project: Path) -> None:
    env = clean_env(project)
    (project / "schedules" / "a.yaml").write_text(TYPO.replace("    qeue: reports\n", ""))
    assert piped(project, "apply", env=env).returncode == 0
    out = project / "exported" / "nested"
    done = piped(project, "export", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    written = (out / "a.yaml").read_text()
    assert written.startswith(
        "# yaml-language-server: $schema=../../schemas/schedule.schema.json\n"
    )
    assert by_modeline.open(out / "a.yaml", written) == []
    broken = written.replace("  task:", "  tsak:")
    assert any("tsak" in d["message"] for d in by_modeline.open(out / "b.yaml", broken))

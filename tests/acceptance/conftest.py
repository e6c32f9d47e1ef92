"""Fixtures of the acceptance layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.installed import Installed, build_and_install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The built wheel installed in a fresh venv outside the checkout (once a session)."""
    workdir: Path = tmp_path_factory.mktemp("installed-wheel")
    return build_and_install(workdir)

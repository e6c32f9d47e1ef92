"""Every file of the invalid corpus is rejected with its error code, line and column."""

from __future__ import annotations

import pytest

from syncd.sources import read_sources
from syncd.validate import load, validate_file
from tests.corpus import INVALID_CASES, INVALID_DIR


def test_corpus_is_large_enough() -> None:
    assert len(INVALID_CASES) >= 40
    on_disk = {p.name for p in INVALID_DIR.glob("*.yaml")}
    assert on_disk == {case[0].name for case in INVALID_CASES}


@pytest.mark.parametrize(
    ("path", "code", "line", "column"), INVALID_CASES, ids=[c[0].name for c in INVALID_CASES]
)
def test_invalid_file_is_rejected_at_its_position(path, code, line, column) -> None:
    sources, read_errors = read_sources([str(path)])
    assert not read_errors
    result = validate_file(sources[0])
    assert result.schedules == []
    first = result.diagnostics[0]
    assert (first.code, first.line, first.column) == (code, line, column), str(first)
    assert first.path == str(path)
    # The message names something from the file, not just a generic complaint.
    assert len(first.message) > 15


@pytest.mark.parametrize(
    "path", [c[0] for c in INVALID_CASES], ids=[c[0].name for c in INVALID_CASES]
)
def test_load_returns_no_schedules_for_invalid_file(path) -> None:
    schedules, diagnostics = load([str(path)])
    assert schedules == []
    assert diagnostics

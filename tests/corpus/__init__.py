"""The invalid-file corpus: each file with the error code, line and column it must produce."""

from __future__ import annotations

import json
from pathlib import Path

INVALID_DIR = Path(__file__).resolve().parent / "invalid"
_EXPECTED: dict[str, list[object]] = json.loads((INVALID_DIR / "expected.json").read_text())

# (path, code, line, column) of the first diagnostic of every invalid file.
INVALID_CASES: list[tuple[Path, str, int, int]] = [
    (INVALID_DIR / name, str(code), int(line), int(col))  # type: ignore[call-overload]
    for name, (code, line, col) in sorted(_EXPECTED.items())
]

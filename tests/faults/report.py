"""Regenerate docs/reliability.md: `python -m tests.faults.report`.

Runs the fault, bad-input and corpus suites (slow ones included), collects the lines the
tests print (`RELIABILITY | fault | times | outcome`) and writes them as a table.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITES = ["tests/faults", "tests/integration/test_apply.py", "tests/acceptance/test_beat.py"]


def main() -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *SUITES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    # -q prints progress dots on the same line before a test's own output.
    marker = "RELIABILITY |"
    rows = [
        line[line.index(marker) + len(marker) :].strip()
        for line in done.stdout.splitlines()
        if marker in line
    ]
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    lines = [
        "# Reliability: what was tried",
        "",
        f"Generated {time.strftime('%Y-%m-%d')} by `python -m tests.faults.report` "
        f"(pytest: {summary}).",
        "Every row is a test in `tests/faults/` (or the beat/apply suites) that tried to break",
        "syncd; the outcome is what the test asserted and observed.",
        "",
        "| fault or input | times | outcome |",
        "|---|---|---|",
    ]
    for row in rows:
        fault, times, outcome = (part.strip() for part in row.split("|", 2))
        lines.append(f"| {fault} | {times} | {outcome} |")
    (REPO / "docs" / "reliability.md").write_text("\n".join(lines) + "\n")
    print(f"{len(rows)} rows written to docs/reliability.md ({summary})")
    if done.returncode != 0:
        # Say which tests failed, and keep the whole run to read why.
        log = REPO / "reliability-run.log"
        log.write_text(done.stdout + done.stderr)
        for line in done.stdout.splitlines():
            if line.startswith(("FAILED", "ERROR")):
                print(line)
        print(f"full pytest output: {log}")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

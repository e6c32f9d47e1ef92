"""Whole-process start-up of the commands that run on every commit and in every pull
request: `syncd validate` of one small file and `syncd --help`, beside `python -c pass`
(the interpreter's own floor), interleaved in one run so a busy host slows all alike.

Usage: python bench/cli_startup.py [--runs 21] [--bin DIR]
DIR holds the python and syncd to time (default: this interpreter's; pass an installed
wheel's venv/bin to time what users run, without the editable install's import hook).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import reference_line

FILE = "version: 1\nschedules:\n  - name: heartbeat\n    task: health.ping\n    every: 30s\n"


def timed(argv: list[str], cwd: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process. CPU time (user + system) shows what the
    process costs when other work on a shared host stretches its wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent)
    args = parser.parse_args()
    python, syncd = str(args.bin / "python"), str(args.bin / "syncd")
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "schedules").mkdir()
        Path(scratch, "schedules", "health.yaml").write_text(FILE)
        cases = {
            "python -c pass": [python, "-c", "pass"],
            "syncd --help": [syncd, "--help"],
            "syncd validate (1 file)": [syncd, "validate", "schedules/health.yaml"],
        }
        for argv in cases.values():  # warm the OS file cache
            timed(argv, scratch)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                times[name].append(timed(argv, scratch))
    print(f"{args.runs} runs each, interleaved; programs from {args.bin}")
    print(f"{'command':<26} {'wall median':>12} {'wall min':>9} {'cpu median':>11}")
    for name, values in times.items():
        walls = [w for w, _ in values]
        cpus = [c for _, c in values]
        print(
            f"{name:<26} {statistics.median(walls):>11.3f}s {min(walls):>8.3f}s "
            f"{statistics.median(cpus):>10.3f}s"
        )
    print(reference_line())


if __name__ == "__main__":
    main()

"""Screens of the installed `syncd` captured under a pseudo-terminal, drawn as SVG for the
docs (docs/img/screen-*.svg): a coloured plan, a compact 10 000-schedule plan, and an
error. `python bench/screens.py` (with .venv active); the escape codes are the ones the
terminal received, turned into coloured text and nothing else."""

from __future__ import annotations

import html
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
from pathlib import Path

SYNCD = str(Path(sys.executable).with_name("syncd"))
OUT = Path(__file__).resolve().parents[1] / "docs" / "img"
COLOURS = {"31": "#e06c75", "32": "#98c379", "33": "#e5c07b", None: "#dcdfe4"}
SGR = re.compile(r"\x1b\[([0-9;]*)m")
CHAR_W, LINE_H = 8.4, 18

BEFORE = """version: 1
schedules:
  - name: nightly-report
    task: reports.send_daily
    cron: "0 2 * * *"
    timezone: Europe/Berlin
  - name: heartbeat
    task: health.ping
    every: 30s
  - name: legacy-export
    task: reports.export
    every: 1d
"""
AFTER = """version: 1
schedules:
  - name: nightly-report
    task: reports.send_daily
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    queue: reports
  - name: heartbeat
    task: health.ping
    every: 30s
  - name: weekly-digest
    task: reports.digest
    cron: "0 8 * * mon"
"""


def capture(cwd: Path, *args: str) -> str:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    env["SYNCD_DATABASE_URL"] = "sqlite:///db.sqlite"  # relative to cwd: short in the figure
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [SYNCD, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def svg(screen: str, title: str) -> str:
    lines = screen.rstrip("\n").split("\n")
    width = int(max(len(SGR.sub("", line)) for line in lines) * CHAR_W) + 32
    height = len(lines) * LINE_H + 56
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="DejaVu Sans Mono, monospace" font-size="14">',
        '<rect width="100%" height="100%" rx="8" fill="#282c34"/>',
        f'<text x="16" y="24" fill="#7f848e">{html.escape(title)}</text>',
    ]
    for number, line in enumerate(lines):
        y = 48 + number * LINE_H
        spans, colour, bold, at = [], None, False, 0
        for match in [*SGR.finditer(line), None]:
            end = match.start() if match else len(line)
            if end > at:
                weight = ' font-weight="bold"' if bold else ""
                spans.append(
                    f'<tspan fill="{COLOURS.get(colour, COLOURS[None])}"{weight}>'
                    f"{html.escape(line[at:end])}</tspan>"
                )
            if match is None:
                break
            for code in (match.group(1) or "0").split(";"):
                if code == "0":
                    colour, bold = None, False
                elif code == "1":
                    bold = True
                elif code == "22":
                    bold = False
                elif code in COLOURS:
                    colour = code
            at = match.end()
        out.append(f'<text x="16" y="{y}" xml:space="preserve">{"".join(spans)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        (tree / "schedules").mkdir()
        (tree / "schedules" / "reports.yaml").write_text(BEFORE)
        capture(tree, "apply")
        (tree / "schedules" / "reports.yaml").write_text(AFTER)
        plan = capture(tree, "plan")
        (OUT / "screen-plan.svg").write_text(svg(plan, "$ syncd plan"))
        (tree / "schedules" / "reports.yaml").write_text(AFTER.replace("0 3 *", "0 25 *"))
        error = capture(tree, "validate")
        (OUT / "screen-error.svg").write_text(svg(error, "$ syncd validate"))
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        (tree / "schedules").mkdir()
        body = "".join(
            f"  - name: job-{i:05d}\n    task: reports.send\n    every: 1h\n" for i in range(10_000)
        )
        (tree / "schedules" / "big.yaml").write_text("version: 1\nschedules:\n" + body)
        compact = capture(tree, "plan")
        (OUT / "screen-compact.svg").write_text(svg(compact, "$ syncd plan   # 10 000 schedules"))
    print(f"wrote {OUT}/screen-plan.svg, screen-error.svg, screen-compact.svg")


if __name__ == "__main__":
    main()

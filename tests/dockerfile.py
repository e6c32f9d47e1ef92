"""The Dockerfile as data (no Docker engine here): its stages and instructions, and the
commands its HEALTHCHECK and CMD run, for the tests to check against the package."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages(path: Path = REPO / "Dockerfile") -> list[Stage]:
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    out: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            out.append(Stage(words[0], words[2] if len(words) > 2 else None))
        else:
            out[-1].instructions.append((keyword, args.strip()))
    return out


def argv(args: str) -> list[str]:
    """What a CMD (or the part after a HEALTHCHECK's CMD) runs: the exec form's JSON array,
    or the shell form as Docker runs it, through `sh -c`."""
    if not args.startswith("["):
        return ["sh", "-c", args]
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


def healthcheck(stage: Stage) -> list[str]:
    (health,) = stage.all("HEALTHCHECK")
    return argv(health.split(" CMD ", 1)[1].strip())

"""Shared by the import tests: the real CLI, and fire times through `syncd next`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.celerytimes import celery_fire_times

__all__ = ["celery_fire_times"]

SYNCD = str(Path(sys.executable).with_name("syncd"))


def syncd(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [SYNCD, *args],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, (done.returncode, done.stdout, done.stderr)
    return done


def syncd_fire_times(name: str, folder: Path, after: datetime, n: int) -> list[datetime]:
    done = syncd(
        "next", name, str(folder), "--after", after.isoformat(), "-n", str(n), "--format", "json"
    )
    stamps = json.loads(done.stdout)["fire_times"]
    return [
        datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(after.tzinfo) for s in stamps
    ]


def round_trip(folder: Path, database_url: str) -> None:
    """validate, apply to a fresh database, then a plan with nothing to do."""
    syncd("validate", str(folder))
    syncd("--database-url", database_url, "apply", str(folder))
    syncd("--database-url", database_url, "plan", str(folder), "--detailed-exitcode")


def held_then_accepted(
    args: tuple[str, ...], out: Path, name: str
) -> subprocess.CompletedProcess[str]:
    """Import twice: by default the entry whose day fields Celery ANDed is written disabled
    with a note; with --accept-or-days it is enabled (so its fire times can be compared).
    Returns the second run."""
    import yaml

    syncd(*args, "--out", str(out), check=1)
    (written,) = out.glob("*.yaml")
    document = written.read_text()
    assert "does not fire on days Celery never fired it" in document
    held = {s["name"]: s for s in yaml.safe_load(document)["schedules"]}[name]
    assert held["enabled"] is False
    return syncd(*args, "--out", str(out), "--force", "--accept-or-days", check=1)

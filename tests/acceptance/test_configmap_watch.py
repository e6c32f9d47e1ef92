"""deploy/kubernetes runs `syncd watch /schedules` over a mounted ConfigMap. The kubelet
updates such a volume by its atomic writer: the files are links through `..data` to a
hidden timestamped directory, and an update swaps `..data` by a rename. Here that swap is
done by hand against a real `syncd watch`, which must apply the new content once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.celery_worker import stop, wait_for
from tests.probes import SYNCD

pytestmark = pytest.mark.acceptance


def body(every: str) -> str:
    return f"version: 1\nschedules:\n  - name: heartbeat\n    task: t.ping\n    every: {every}\n"


def publish(volume: Path, version: str, every: str) -> None:
    """One kubelet update: a new data directory, then `..data` swapped to it by rename."""
    data = volume / f"..2026_12_02_10_00_{version}"
    data.mkdir()
    (data / "health.yaml").write_text(body(every))
    old = os.readlink(volume / "..data") if (volume / "..data").is_symlink() else None
    os.symlink(data.name, volume / "..data_tmp")
    os.rename(volume / "..data_tmp", volume / "..data")
    if not (volume / "health.yaml").is_symlink():
        os.symlink("..data/health.yaml", volume / "health.yaml")
    if old:
        for child in (volume / old).iterdir():
            child.unlink()
        (volume / old).rmdir()


def test_watch_applies_a_configmap_update(tmp_path: Path) -> None:
    volume = tmp_path / "schedules"
    volume.mkdir()
    publish(volume, "01", "30s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    env["SYNCD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'syncd.db'}"
    log_path = tmp_path / "watch.log"
    with log_path.open("wb") as log:
        watch = subprocess.Popen(
            [
                SYNCD,
                "watch",
                str(volume),
                "--format",
                "json",
                "--debounce",
                "100",
                "--max-applies",
                "2",
            ],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def events() -> list[dict[str, object]]:
            lines = log_path.read_text().splitlines()
            return [json.loads(line) for line in lines if line.startswith("{")]

        first = wait_for(events, 60, what="the first apply")
        assert first[0]["status"] == "applied" and first[0]["revision"] == 1, first
        # watch starts listening just after its first apply: an update that lands in
        # between is not seen, so publish again until one is (each is a real change).
        for attempt in range(2, 12):
            publish(volume, f"{attempt:02d}", f"{30 + attempt}s")
            try:
                watch.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        assert watch.returncode == 0, log_path.read_text()
        second = events()[1]
        assert second["status"] == "applied", second
        assert second["changed"] == ["heartbeat"], second
        assert second["summary"]["update"] == 1, second  # type: ignore[index]
    finally:
        stop(watch)

"""The beat's /metrics, scraped over HTTP from real beats and parsed with the client
library's parser (issue 14): the dispatches counted match the messages the worker received
from that beat (the `syncd_beat` header names it), every one has its lag observed, and
with two beats the leader flag flips when the leader is killed with SIGKILL.

Runs on the embedded default (SQLite, filesystem broker, database lease) and on
PostgreSQL + Redis. Nothing here is judged by how fast it happens."""

from __future__ import annotations

import math
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.acceptance.beat_process import Beat, start_beat
from tests.acceptance.conftest import stack_name, tally_of
from tests.celery_worker import celery_worker, stop_all, wait_for
from tests.probes import SYNCD, apply
from tests.tally import quiesce, schedule_of, sender_pid, tally_schedule

pytestmark = pytest.mark.acceptance

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples | None:
    """Every sample of the beat's /metrics, None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(port: int, name: str, **labels: str) -> float | None:
    got = scrape(port)
    return None if got is None else got.get((name, tuple(sorted(labels.items()))))


@contextmanager
def _beats(env: dict[str, str], tmp_path: Path, ports: list[int]) -> Iterator[list[Beat]]:
    started = [
        start_beat({**env, "SYNCD_BEAT_METRICS_PORT": str(port)}, tmp_path, f"beat{i}")
        for i, port in enumerate(ports)
    ]
    try:
        yield started
    finally:
        stop_all([beat.process for beat in started])


def _syncd(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [SYNCD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def _from(env: dict[str, str], beat: Beat) -> int:
    """Messages of `often` the worker received from `beat`."""
    return sum(
        schedule_of(m.task_id) == "often" and sender_pid(m.sender) == beat.process.pid
        for m in tally_of(env).messages()
    )


def test_metrics_count_what_the_worker_received_and_the_leader_flag_flips(
    tally_stack: dict[str, str], tmp_path: Path
) -> None:
    env = tally_stack
    folder = tmp_path / "schedules"
    apply(env, folder, tally_schedule("often", "every: 1s"))
    ports = [_free_port(), _free_port()]
    with (
        celery_worker(env, tmp_path, include="tests.tally_task"),
        _beats(env, tmp_path, ports) as pair,
    ):
        wait_for(lambda: all(scrape(p) is not None for p in ports), 60, what="both /metrics")
        (lead,) = wait_for(
            lambda: [i for i, p in enumerate(ports) if _value(p, "syncd_beat_leader") == 1],
            60,
            what="a beat to report syncd_beat_leader 1",
        )
        other = 1 - lead
        leader, standby = pair[lead], pair[other]
        wait_for(lambda: _from(env, leader) >= 5, 60, what="five runs from the leader")

        # Stop dispatching, let the worker settle: then the counts are final.
        _syncd(env, "pause", "often", "--reason", "metrics test")
        wait_for(
            lambda: _value(ports[lead], "syncd_schedules", state="paused") == 1,
            30,
            what="the pause to reach the beat",
        )
        quiesce(tally_of(env))
        got = scrape(ports[lead])
        assert got is not None
        received = _from(env, leader)
        where = f"({stack_name(env)})"
        assert got[("syncd_dispatch_total", ())] == received >= 5, where
        assert got[("syncd_dispatch_lag_seconds_count", ())] == received, where
        assert got[("syncd_dispatch_lag_seconds_bucket", (("le", "+Inf"),))] == received
        assert got[("syncd_dispatch_lag_seconds_sum", ())] >= 0
        assert got[("syncd_beat_leader", ())] == 1
        assert got[("syncd_schedules", (("state", "active"),))] == 0
        assert got[("syncd_revision", ())] >= 2  # the apply and the pause
        age = got[("syncd_beat_heartbeat_age_seconds", ())]
        assert math.isfinite(age) and age >= 0
        stamp = ("syncd_schedule_last_dispatch_timestamp_seconds", (("schedule", "often"),))
        assert stamp in got, where
        passive = scrape(ports[other])
        assert passive is not None
        assert passive[("syncd_beat_leader", ())] == 0
        assert passive[("syncd_dispatch_total", ())] == 0

        # Failover: the standby's flag flips to 1 and it counts what it sends.
        _syncd(env, "resume", "often")
        leader.kill9()
        wait_for(
            lambda: _value(ports[other], "syncd_beat_leader") == 1,
            60,
            what="the standby's syncd_beat_leader to flip to 1",
        )
        assert scrape(ports[lead]) is None  # the killed beat serves nothing
        wait_for(lambda: _from(env, standby) >= 3, 60, what="runs from the new leader")
        counted = _value(ports[other], "syncd_dispatch_total")
        assert counted is not None and counted >= 3

"""`syncd serve` with real parts: a git daemon on loopback as the remote, PostgreSQL (and
MariaDB for the lock tests), Redis and a real `celery beat`. Assertions are on states
reached (generous timeouts), never on speed; bench/serve.py measures the latencies."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from syncd.hooks import signature
from tests.acceptance.beat_process import beats
from tests.acceptance.gitremote import Remote, free_port, git, schedules, served_remote
from tests.acceptance.serve_process import SYNCD, once, serving
from tests.celery_worker import wait_for, worker_env

pytestmark = pytest.mark.acceptance

SECRET = b"hook-secret-for-tests"


def serve_env(url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> dict[str, str]:
    secret = tmp_path / "webhook-secret"
    secret.write_bytes(SECRET + b"\n")
    return worker_env(
        url,
        redis_url,
        redis_prefix,
        SYNCD_BEAT_LOCK_TTL="3",
        SYNCD_BEAT_MAX_INTERVAL="1",
        SYNCD_BEAT_POLL_INTERVAL="30",  # the Redis signal, not the poll, must carry changes
        SYNCD_WEBHOOK_SECRET_FILE=str(secret),
    )


@pytest.fixture
def env(pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> dict[str, str]:
    return serve_env(pg_url, redis_url, redis_prefix, tmp_path)


@pytest.fixture
def server_env(
    server_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> dict[str, str]:
    """PostgreSQL and MariaDB, one run each: for the tests of the controller's locks (the
    apply lock, the per-source lock of replicas), which each database implements its own way."""
    return serve_env(server_url, redis_url, redis_prefix, tmp_path)


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    with served_remote(tmp_path) as served:
        yield served


def query(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def names(url: str) -> list[str]:
    return [r[0] for r in query(url, "SELECT name FROM sys_task_scheduler ORDER BY name")]


def reloaded(beat_log: str) -> set[int]:
    return {int(n) for n in re.findall(r"revision (\d+): reloaded", beat_log)}


def push_hook(ref: str = "refs/heads/main") -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ref": ref}).encode()
    return body, {"X-Hub-Signature-256": signature(SECRET, body), "X-GitHub-Event": "push"}


def test_push_is_live_in_the_beat_by_poll_and_by_webhook(
    env: dict[str, str], tmp_path: Path, remote: Remote
) -> None:
    url = env["SYNCD_DATABASE_URL"]
    first = remote.commit({"schedules/a.yaml": schedules("alpha")}, "Add alpha")
    with serving(env, tmp_path, remote.url, ["--interval", "1s"]) as serve:
        wait_for(lambda: serve.status()["state"] == "synced", 60, what="the first sync")
        status = serve.status()
        assert status["live"]["commit"] == status["remote"]["head"] == first
        assert status["live"]["subject"] == "Add alpha"
        assert status["live"]["author"] == "Ada Lovelace <ada@example.com>"
        with beats(env, tmp_path) as (beat,):
            wait_for(lambda: beat.leading, 60, what="the beat to lead")
            # Poll: a push is live in the beat's heap within the interval (and slack).
            assert serve.status()["beat"]["leader"]  # the beat holding the lock
            second = remote.commit({"schedules/b.yaml": schedules("beta")}, "Add beta")
            wait_for(lambda: 2 in reloaded(beat.log()), 30, what="the beat to reload revision 2")
            assert serve.status()["live"]["commit"] == second
    rows = query(url, "SELECT git_commit, git_author, git_subject FROM syncd_revision ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (first, "Ada Lovelace <ada@example.com>", "Add alpha"),
        (second, "Ada Lovelace <ada@example.com>", "Add beta"),
    ]
    # Webhook: with an hour between polls, only the hook can bring the change in.
    with serving(env, tmp_path, remote.url, ["--interval", "1h"]) as serve:
        wait_for(lambda: serve.status()["state"] == "synced", 60, what="the restart's sync")
        with beats(env, tmp_path) as (beat,):
            wait_for(lambda: beat.leading, 60, what="the beat to lead")
            third = remote.commit({"schedules/c.yaml": schedules("gamma")}, "Add gamma")
            # A bad signature is 401 and changes nothing; another branch is ignored.
            body, headers = push_hook()
            bad = {**headers, "X-Hub-Signature-256": signature(b"wrong", body)}
            assert serve.post("/hooks/github", body, bad)[0] == 401
            other_body, other_headers = push_hook("refs/heads/feature")
            code, answer = serve.post("/hooks/github", other_body, other_headers)
            assert (code, answer["sync"]) == (200, False)
            assert serve.status()["remote"]["head"] == second
            assert names(url) == ["alpha", "beta"]
            # A burst of good hooks is one sync (one revision for the commit).
            for _ in range(5):
                assert serve.post("/hooks/github", body, headers)[0] == 202
            wait_for(lambda: 3 in reloaded(beat.log()), 30, what="the beat to reload revision 3")
            assert serve.status()["live"]["commit"] == third
            assert serve.get("/readyz") == (200, {"ready": True})
            with urllib.request.urlopen(serve.base + "/metrics", timeout=10) as response:
                metrics = response.read().decode()
            assert 'syncd_apply_total{result="applied"} 1.0' in metrics
            assert "syncd_revision 3.0" in metrics
            assert 'syncd_sync_state{state="synced"} 1.0' in metrics
            assert 'syncd_webhook_requests_total{kind="github",status="401"} 1.0' in metrics
    assert names(url) == ["alpha", "beta", "gamma"]
    commits = [r[0] for r in query(url, "SELECT git_commit FROM syncd_revision ORDER BY id")]
    assert commits == [first, second, third]
    # `syncd status` shows the same from the database alone.
    done = subprocess.run(
        [SYNCD, "status", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # 6: the beat is stopped by now; the health verdict is test_status_health.py's subject.
    assert done.returncode in (0, 6), done.stderr
    (controller,) = json.loads(done.stdout)["controllers"]
    assert controller["state"] == "synced"
    assert controller["live"]["commit"] == third
    assert controller["source"]["branch"] == "main"


class Sink(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (Sink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notify", received
    finally:
        server.shutdown()
        server.server_close()


def test_invalid_commit_empty_tree_force_push_deny_window_and_notifications(
    env: dict[str, str],
    tmp_path: Path,
    remote: Remote,
    sink: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url = env["SYNCD_DATABASE_URL"]
    notify_url, received = sink
    notify_secret = tmp_path / "notify-secret"
    notify_secret.write_text("notify-key")
    env = {**env, "SYNCD_NOTIFY_URL": notify_url, "SYNCD_NOTIFY_SECRET_FILE": str(notify_secret)}

    def status() -> dict[str, Any]:
        done = subprocess.run(
            [SYNCD, "status", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        # 6: no beat leads here; the health verdict is test_status_health.py's subject.
        assert done.returncode in (0, 6), done.stderr
        return json.loads(done.stdout)["controllers"][0]  # type: ignore[no-any-return]

    good = remote.commit({"schedules/a.yaml": schedules("alpha", "beta")}, "Two schedules")
    done = once(env, tmp_path, remote.url)
    assert done.returncode == 0, done.stderr
    assert names(url) == ["alpha", "beta"]

    # An invalid commit: nothing changes, the status names the commit and the errors.
    bad = remote.commit(
        {"schedules/a.yaml": schedules("alpha", "beta", every="1x")}, "Break the interval"
    )
    done = once(env, tmp_path, remote.url)
    assert done.returncode == 1, done.stderr
    assert "schedules/a.yaml:5:12: error[schema.pattern]" in done.stderr
    seen = status()
    assert seen["state"] == "failed"
    assert seen["live"]["commit"] == good
    assert seen["last_attempt"]["commit"] == bad
    assert seen["last_attempt"]["result"] == "invalid"
    assert seen["last_attempt"]["errors"][0].startswith("schedules/a.yaml:5:12: error[")
    assert query(url, "SELECT count(*) FROM syncd_revision")[0][0] == 1
    assert names(url) == ["alpha", "beta"]

    # A commit that empties the tree: refused by the prune guard (exit 5).
    empty = remote.commit({"schedules": None}, "Remove every schedule")
    done = once(env, tmp_path, remote.url)
    assert done.returncode == 5, done.stdout + done.stderr
    seen = status()
    assert (seen["state"], seen["last_attempt"]["commit"]) == ("failed", empty)
    assert seen["last_attempt"]["result"] == "refused"
    assert "deletes every managed schedule" in seen["last_attempt"]["errors"][0]
    assert names(url) == ["alpha", "beta"]

    # Force-push over the bad history: the new head applies.
    git(remote.work, "reset", "--quiet", "--hard", good)
    rewritten = remote.commit(
        {"schedules/a.yaml": schedules("alpha", "gamma")}, "Rewrite: gamma", push=False
    )
    remote.push(force=True)
    # ...but not inside a deny window.
    window = ["--deny-window", "* * * * *", "1h"]
    done = once(env, tmp_path, remote.url, *window)
    assert done.returncode == 5, done.stdout + done.stderr
    seen = status()
    assert (seen["state"], seen["last_attempt"]["result"]) == ("out-of-sync", "denied")
    assert seen["settings"]["deny_windows"] == ["* * * * * for 1h (UTC)"]
    assert names(url) == ["alpha", "beta"]
    done = once(env, tmp_path, remote.url)
    assert done.returncode == 0, done.stderr
    seen = status()
    assert seen["state"] == "synced"
    assert seen["live"]["commit"] == rewritten
    assert names(url) == ["alpha", "gamma"]

    # syncd apply refuses inside the window too, unless a person forces it.
    folder = tmp_path / "manual"
    folder.mkdir()
    (folder / "s.yaml").write_text(schedules("alpha", "gamma", "delta"))
    base = [SYNCD, "apply", str(folder), *window]
    assert subprocess.run(base, env=env, capture_output=True, check=False).returncode == 5
    assert names(url) == ["alpha", "gamma"]
    forced = subprocess.run(
        [*base, "--force-window"], env=env, capture_output=True, text=True, check=False
    )
    assert forced.returncode == 0, forced.stderr
    assert names(url) == ["alpha", "delta", "gamma"]

    events = [json.loads(body) for _, body in received]
    kinds = [e["event"] for e in events]
    assert kinds == [
        "sync_succeeded",
        "sync_failed",
        "sync_refused",
        "sync_refused",
        "sync_succeeded",
    ], kinds
    failed = events[1]
    assert failed["commit"] == bad and failed["errors"]
    assert bad[:12] in failed["text"] and "invalid" in failed["text"]  # Slack's field
    for headers, body in received:
        assert headers["X-Syncd-Signature"] == signature(b"notify-key", body)


def test_credentials_in_the_url_are_never_shown(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the fetch fails and says so
    for repo in (
        f"http://alice:hunter2-pw@127.0.0.1:{port}/r.git",
        f"http://ghp_secrettoken42@127.0.0.1:{port}/r.git",
    ):
        done = once(env, tmp_path, repo)
        assert done.returncode == 3, done.stdout + done.stderr
        out = done.stdout + done.stderr
        assert "cannot fetch" in out or "failed" in out, out
        assert "hunter2" not in out and "secrettoken42" not in out, out
    status = subprocess.run(
        [SYNCD, "status", "--format", "json"], env=env, capture_output=True, text=True, check=False
    ).stdout
    assert "hunter2" not in status and "secrettoken42" not in status
    assert "127.0.0.1" in status


def test_remote_unreachable_then_recovers(
    env: dict[str, str], tmp_path: Path, remote: Remote
) -> None:
    url = env["SYNCD_DATABASE_URL"]
    good = remote.commit({"schedules/a.yaml": schedules("alpha")}, "Add alpha")
    with serving(env, tmp_path, remote.url, ["--interval", "1s"]) as serve:
        wait_for(lambda: serve.status()["state"] == "synced", 60, what="the first sync")
        remote.stop()
        down = wait_for(
            lambda: (s := serve.status())["state"] == "failed" and s, 30, what="failed status"
        )
        assert down["remote"]["error"] and "127.0.0.1" in down["remote"]["error"]
        assert down["live"]["commit"] == good
        code, ready = serve.get("/readyz")
        assert code == 503 and "cannot fetch the remote" in ready["reason"]
        assert serve.get("/healthz")[0] == 200  # alive: restarting it would not help
        assert names(url) == ["alpha"]
        newer = remote.commit({"schedules/b.yaml": schedules("beta")}, "Add beta", push=False)
        remote.start()
        remote.push()
        wait_for(
            lambda: serve.status()["live"]["commit"] == newer, 30, what="recovery and the sync"
        )
        status = serve.status()
        assert status["state"] == "synced" and status["remote"]["error"] is None
        assert serve.get("/readyz")[0] == 200
        assert "fetch works again" in serve.log()
    assert names(url) == ["alpha", "beta"]


def _apply_lock_held(url: str) -> bool:
    from syncd.store import APPLY_LOCK_KEY
    from syncd.store.transaction import mysql_lock_name

    if url.startswith("mysql"):
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                name = mysql_lock_name(conn, "apply")
                held = conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
        finally:
            engine.dispose()
        return held is not None
    high, low = APPLY_LOCK_KEY >> 32, APPLY_LOCK_KEY & 0xFFFF_FFFF
    rows = query(
        url,
        # pg_locks is the whole server's: other tests apply in other databases.
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        f"AND classid = {high} AND objid = {low} "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    return bool(rows[0][0])


def test_kill9_during_an_apply_leaves_old_or_new_and_restart_converges(
    server_env: dict[str, str], tmp_path: Path, remote: Remote
) -> None:
    env = server_env
    url = env["SYNCD_DATABASE_URL"]
    old = [f"old-{i:02d}" for i in range(10)]
    new = old + [f"new-{i:05d}" for i in range(6000)]  # deleting all of `old` is refused
    remote.commit({"schedules/a.yaml": schedules(*old)}, "Ten schedules")
    done = once(env, tmp_path, remote.url, "--max-delete", "100000")
    assert done.returncode == 0, done.stderr
    head = remote.commit({"schedules/a.yaml": schedules(*new)}, "Six thousand schedules")
    with serving(env, tmp_path, remote.url, ["--interval", "1h"]) as serve:
        # Kill it while it holds the apply lock: inside the apply's transaction.
        wait_for(lambda: _apply_lock_held(url), 60, interval=0.01, what="the apply to start")
        serve.kill9()
    after = names(url)
    assert after in (sorted(old), sorted(new)), f"a mix: {len(after)} rows"
    # It died mid-apply: the attempt it recorded before the transaction is still open.
    assert query(url, "SELECT attempt_commit, attempt_result FROM syncd_controller") == [
        (head, "applying")
    ]
    with serving(env, tmp_path, remote.url, ["--interval", "1h"]) as serve:
        wait_for(
            lambda: (s := serve.status())["state"] == "synced" and s["live"]["commit"] == head,
            90,
            what="the restart to converge",
        )
    assert names(url) == sorted(new)


def test_replicas_apply_each_commit_once_and_self_heal_reverts_drift(
    server_env: dict[str, str], tmp_path: Path, remote: Remote
) -> None:
    env = server_env
    url = env["SYNCD_DATABASE_URL"]
    first = remote.commit({"schedules/a.yaml": schedules("alpha", "beta")}, "Two schedules")
    args = ["--interval", "1s", "--self-heal"]
    with (
        serving(env, tmp_path, remote.url, args, name="one") as one,
        serving(env, tmp_path, remote.url, args, name="two") as two,
    ):
        # The first commit live before the next is pushed (the first sync also migrates,
        # which takes longer on MariaDB): else it is never a revision of its own.
        wait_for(
            lambda: all(r.status().get("live", {}).get("commit") == first for r in (one, two)),
            60,
            what="the first sync",
        )
        for i in range(3):
            head = remote.commit({"schedules/b.yaml": schedules(f"extra-{i}")}, f"Extra {i}")
            for replica in (one, two):
                body, headers = push_hook()
                replica.post("/hooks/github", body, headers)
            wait_for(
                lambda: all(
                    r.status().get("live", {}).get("commit") == head  # noqa: B023
                    for r in (one, two)
                ),
                30,
                what="both replicas to report the head live",
            )
        a, b = one.status(), two.status()
        for key in ("state", "live", "remote", "last_attempt", "drift"):
            assert a[key] == b[key], key
        per_commit = query(
            url, "SELECT git_commit, count(*) FROM syncd_revision GROUP BY git_commit"
        )
        assert all(n == 1 for _, n in per_commit), per_commit
        assert len(per_commit) == 4
        # Drift: a managed row edited by hand is reverted within an interval.
        query_engine = create_engine(url)
        with query_engine.begin() as conn:
            conn.execute(
                text("UPDATE sys_task_scheduler SET interval_every = 7 WHERE name = 'alpha'")
            )
        query_engine.dispose()
        wait_for(
            lambda: (
                query(url, "SELECT interval_every FROM sys_task_scheduler WHERE name='alpha'")[0][0]
                == 3600
            ),
            30,
            what="self-heal to revert the drift",
        )
        wait_for(lambda: one.status()["drift"] == [], 10, what="drift gone from status")
        heals = one.status()["counters"].get("heals", 0)
        assert heals == 1, one.status()["counters"]
        assert "self-heal: reverting drift in alpha" in one.log() + two.log()

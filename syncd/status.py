"""`syncd status`: revision, last apply, drift, beat leader, workers online, and the
sync state of every `syncd serve` source (live commit, remote head, last attempt)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celeryapp.redact import redact_url
from celeryapp.settings import MAX_HEARTBEAT_AGE, Settings, heartbeat_key, lock_key
from syncd import store
from syncd.plan import Row, paused_now
from syncd.spec import format_time

if TYPE_CHECKING:
    from syncd.store import Connection


def gather(
    settings: Settings,
    *,
    ping_timeout: float = 1.0,
    now: datetime | None = None,
    max_heartbeat_age: float = MAX_HEARTBEAT_AGE,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    out: dict[str, Any] = {"database": redact_url(settings.database_url)}
    store.require_database(settings.database_url)
    with store.connect(settings.database_url) as conn:
        last = store.latest_revision_row(conn)
        rows = store.snapshot(conn)
        drift = sorted(r.name for r in rows if r.drifted)
        paused = paused_now(store.pauses(conn), {r.name for r in rows}, now)
        controllers = [describe(conn, row, drift) for row in store.read_controller(conn)]
    out["revision"] = last["id"] if last else None
    out["last_apply"] = (
        None
        if not last
        else {
            "time": format_time(last["created_time"]),
            "commit": last["git_commit"],
            "author": last.get("git_author"),
            "subject": last.get("git_subject"),
            "actor": last["actor"],
            "summary": last["summary"],
            "kind": last.get("kind") or "apply",
            "scope": last.get("scope"),
        }
    )
    out["scopes"] = scope_counts(rows)
    out["schedules"] = {
        "managed": sum(r.managed for r in rows),
        "unmanaged": sum(not r.managed for r in rows),
        "enabled": sum(bool(r.columns.get("enabled")) for r in rows),
    }
    out["drift"] = drift
    out["paused"] = [
        {"name": p.name, "reason": p.reason, "actor": p.actor, "until": p.until} for p in paused
    ]
    out["controllers"] = controllers
    out["beat"] = beat_leader(settings)
    out["shards"] = out["beat"].pop("shards", [])
    out["workers"] = _workers(settings, ping_timeout)
    out["beat"]["heartbeat_age_seconds"] = heartbeat_age(out["beat"], now)
    out["health"] = judge(out, now, max_heartbeat_age)
    return out


def scope_counts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Managed rows and drift per scope (None, the default scope, first; then by name)."""
    counts: dict[str | None, dict[str, Any]] = {}
    for r in rows:
        if not r.managed:
            continue
        entry = counts.setdefault(r.scope, {"scope": r.scope, "managed": 0, "drift": 0})
        entry["managed"] += 1
        entry["drift"] += int(r.drifted)
    return [counts[k] for k in sorted(counts, key=lambda k: (k is not None, k or ""))]


def _scopes_line(status: dict[str, Any]) -> list[str]:
    """`scopes:` only when a row has a scope: one repository's table reads as before."""
    scopes = status.get("scopes") or []
    if not any(s["scope"] is not None for s in scopes):
        return []
    parts = [
        f"{s['scope'] or '(default)'} {s['managed']}"
        + (f" ({s['drift']} drifted)" if s["drift"] else "")
        for s in scopes
    ]
    return ["scopes:    " + ", ".join(parts)]


def _instant(text: str) -> datetime | None:
    """An ISO 8601 instant as the beat writes it (isoformat, or RFC 3339 with Z)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def heartbeat_age(beat: dict[str, Any], now: datetime) -> float | None:
    """Seconds since the leading beat's last heartbeat (None: there is none)."""
    seen = _instant(str((beat.get("heartbeat") or {}).get("time") or ""))
    return None if seen is None else round(max(0.0, (now - seen).total_seconds()), 1)


def leads(beat: dict[str, Any], now: datetime) -> bool:
    """Whether a beat holds the lock: a leader is named and its database lease (if it
    has one) has not expired."""
    if "error" in beat or not beat.get("leader"):
        return False
    expires = _instant(str((beat.get("heartbeat") or {}).get("lease_expires") or ""))
    return expires is None or expires >= now


def judge(status: dict[str, Any], now: datetime, max_heartbeat_age: float) -> dict[str, Any]:
    """Healthy, or what is wrong: no beat leads, its heartbeat is stale, drift exists.
    Workers are reported, not judged: they may run where the broker cannot be pinged
    from. A service that cannot be reached is exit 3, not a health verdict."""
    beat, problems = status["beat"], []
    if "error" in beat:
        return {"healthy": False, "problems": [beat["error"]], "unreachable": True}
    shards = status.get("shards") or []
    unled = [s["shard"] for s in shards if not s.get("leader")]
    if not leads(beat, now):
        problems.append("no beat leads")
    elif len(shards) > 1 and unled:
        # Said once: "no beat leads" above when none is led, else the shards no beat leads.
        problems.append("no beat leads shard" + ("s " if len(unled) > 1 else " ") + _numbers(unled))
    if leads(beat, now):
        age = beat.get("heartbeat_age_seconds")
        if age is None:
            problems.append("the leading beat has written no heartbeat")
        elif age > max_heartbeat_age:
            problems.append(
                f"the beat's heartbeat is {age:g} s old (more than {max_heartbeat_age:g} s)"
            )
    if status["drift"]:
        problems.append("drift: " + ", ".join(status["drift"]))
    return {"healthy": not problems, "problems": problems, "unreachable": False}


def _numbers(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def describe(conn: Connection, row: dict[str, Any], drift: list[str]) -> dict[str, Any]:
    """One controller row as status shows it (json; `syncd status` renders it as text)."""
    from syncd import controller as decisions

    known = decisions.Known(
        head=row.get("remote_head"),
        live=row.get("live_commit"),
        attempt_commit=row.get("attempt_commit"),
        attempt_result=row.get("attempt_result"),
        fetch_error=row.get("fetch_error"),
        drift=tuple(drift),
    )
    state, reason = decisions.sync_state(known)
    live_rev = store.revision_row(conn, row["live_revision"]) if row.get("live_revision") else None
    if live_rev and live_rev["git_commit"] != row.get("live_commit"):
        live_rev = None  # the live commit changed nothing: its revision is an older one's
    return {
        "source": {"repo": row["repo"], "branch": row["branch"], "path": row["path"]},
        "state": state,
        "reason": reason,
        "live": {
            "commit": row.get("live_commit"),
            "revision": row.get("live_revision"),
            "time": _time(row.get("live_time")),
            "author": live_rev["git_author"] if live_rev else None,
            "subject": live_rev["git_subject"] if live_rev else None,
        },
        "remote": {
            "head": row.get("remote_head"),
            "fetched_time": _time(row.get("fetched_time")),
            "error": row.get("fetch_error"),
        },
        "last_attempt": {
            "commit": row.get("attempt_commit"),
            "time": _time(row.get("attempt_time")),
            "result": row.get("attempt_result"),
            "errors": row.get("attempt_errors") or [],
            "summary": row.get("attempt_summary"),
        },
        "drift": drift,
        "counters": row.get("counters") or {},
        "settings": row.get("settings") or {},
        "synced_by": row.get("holder"),
        "updated_time": _time(row.get("updated_time")),
    }


def _time(value: datetime | None) -> str | None:
    return format_time(value.replace(microsecond=0)) if value is not None else None


def beat_leader(settings: Settings) -> dict[str, Any]:
    """The beat holding the lock and its heartbeat (Redis, else the database lease), and
    `shards`: the leader of each shard (one shard, the whole table, unless
    SYNCD_BEAT_SHARDS says more). Sharded, `leader` names every beat leading a shard."""
    if settings.redis_url:
        import redis

        from celeryapp.clients import new_client

        n = settings.beat_shards
        keys = [lock_key(settings.redis_prefix, n, i) for i in range(n)]
        client = new_client(settings.redis_url, timeout=2)
        try:
            holders = client.mget(keys)
            beat = client.get(heartbeat_key(settings.redis_prefix))
        except (redis.RedisError, OSError) as exc:
            return {"error": redact_url(f"Redis unreachable: {exc}")}
        finally:
            client.close()
        leaders = [h.decode() if h else None for h in holders]
        named = sorted({h for h in leaders if h})
        return {
            "leader": ", ".join(named) if named else None,
            "heartbeat": json.loads(beat) if beat else None,
            "shards": [{"shard": i, "leader": h} for i, h in enumerate(leaders)],
        }
    with store.connect(settings.database_url) as conn:
        row = store.beat_lease(conn)
    if row is None:
        return {"leader": None, "heartbeat": None, "shards": [{"shard": 0, "leader": None}]}
    return {
        "shards": [{"shard": 0, "leader": row["holder"]}],
        "leader": row["holder"],
        "heartbeat": {
            "time": format_time(row["heartbeat_time"]) if row["heartbeat_time"] else None,
            "lease_expires": format_time(row["expires_time"]) if row["expires_time"] else None,
        },
    }


def _workers(settings: Settings, timeout: float) -> list[str] | dict[str, str]:
    import os

    if not settings.broker_url and not os.path.isdir(settings.broker_dir):
        # The embedded filesystem broker: no folder, no worker ever used it. Importing
        # celeryapp.app makes its app, which creates the folder: status creates nothing.
        return []
    from celeryapp.app import make_app

    app = make_app(settings)
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # noqa: BLE001 - any broker failure means "cannot tell"
        return {"error": redact_url(f"broker unreachable: {type(exc).__name__}: {exc}")}
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)


def render(status: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(status, indent=2, default=str)
    lines = _summary_lines(status)
    for controller in status.get("controllers", []):
        lines += _controller_lines(controller)
    workers = status["workers"]
    lines.append(
        "workers:   "
        + (
            workers["error"]
            if isinstance(workers, dict)
            else (", ".join(workers) or "none answered")
        )
    )
    if fmt == "markdown":
        return "### syncd status\n\n" + "\n".join(f"- {line}" for line in lines)
    if fmt == "github":
        # Drift is what a workflow should see flagged; the rest is one notice.
        notices = [
            f"::warning title=syncd drift::{name} was edited in the database by hand"
            for name in status["drift"]
        ]
        return "\n".join(
            [
                *notices,
                "::notice title=syncd status::"
                + "; ".join(" ".join(line.split()) for line in lines),
            ]
        )
    return "\n".join(lines)


def _summary_lines(status: dict[str, Any]) -> list[str]:
    last = status["last_apply"]
    beat = status["beat"]
    return [
        f"database:  {status['database']}",
        f"revision:  {status['revision'] if status['revision'] is not None else 'none'}"
        + (
            f" ({last['time']} by {last['actor']}, commit {last['commit'] or '-'}"
            + (f", scope {last['scope']}" if last.get("scope") is not None else "")
            + ")"
            if last
            else " (never applied)"
        ),
        f"schedules: {status['schedules']['managed']} managed, "
        f"{status['schedules']['unmanaged']} made by other means, "
        f"{status['schedules']['enabled']} enabled",
        *_scopes_line(status),
        "drift:     " + (", ".join(status["drift"]) if status["drift"] else "none"),
        "paused:    " + (", ".join(_paused_text(p) for p in status.get("paused", [])) or "none"),
        "beat:      " + _beat_line(beat),
        *_shards_line(status),
        "health:    "
        + ("healthy" if status["health"]["healthy"] else "; ".join(status["health"]["problems"])),
    ]


def _paused_text(p: dict[str, Any]) -> str:
    end = f"until {p['until']}" if p["until"] else "until resumed"
    return f"{p['name']} ({p['reason']}; {end})"


def _shards_line(status: dict[str, Any]) -> list[str]:
    """`shards:` only when the beats are sharded: one shard reads as before."""
    shards = status.get("shards") or []
    if len(shards) <= 1:
        return []
    return ["shards:    " + ", ".join(f"{s['shard']} {s['leader'] or 'none'}" for s in shards)]


def _beat_line(beat: dict[str, Any]) -> str:
    if beat.get("error"):
        return str(beat["error"])
    if not beat.get("leader"):
        return "no leader"
    age = beat.get("heartbeat_age_seconds")
    return f"leader {beat['leader']}" + (f", heartbeat {age:g} s ago" if age is not None else "")


def _controller_lines(c: dict[str, Any]) -> list[str]:
    """One `syncd serve` controller: its source, live and remote commits, last attempt."""
    src = c["source"]
    live, remote, attempt = c["live"], c["remote"], c["last_attempt"]
    lines = [
        f"serve:     {src['repo']} {src['branch']}:{src['path']}: {c['state']} ({c['reason']})",
        f"  live:    {(live['commit'] or '-')[:12]}"
        + (f' "{live["subject"]}" by {live["author"]}' if live.get("subject") else "")
        + (f", revision {live['revision']}" if live["revision"] else ""),
        f"  remote:  {(remote['head'] or '-')[:12]} fetched {remote['fetched_time'] or 'never'}"
        + (f"; error: {remote['error']}" if remote["error"] else ""),
    ]
    windows = (c.get("settings") or {}).get("deny_windows") or []
    if windows:
        lines.append("  deny:    " + "; ".join(windows))
    if attempt["commit"]:
        lines.append(
            f"  attempt: {attempt['commit'][:12]} at {attempt['time']}: {attempt['result']}"
        )
        lines.extend(f"    {e}" for e in attempt["errors"][:20])
    return lines

"""The pipeline, top to bottom: load -> validate -> plan -> guards -> write (one
transaction) -> signal. `apply` runs it for the CLI, `watch` and `serve` alike.

Parsing is the floor of every plan, so a file is read again only when something its
validation depends on changed: its bytes, the schema, the rules, the task registry, the
default timezone (all folded into `source_hash`), or the rows it produced (deleted or
edited by hand). Otherwise its schedules are taken as they stand in the table.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import logging
import os
import socket
import subprocess
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from celeryapp.redact import redact_url
from syncd.errors import Diagnostic, InvalidSchedules, Refused
from syncd.gcpause import collector_paused
from syncd.guards import Guards, check
from syncd.loader import DEFAULT_SIZE_LIMITS, SizeLimits
from syncd.plan import Plan, Row, make_plan, paused_now
from syncd.render import plan_dict
from syncd.savedplan import SavedPlan
from syncd.scopes import FileScope
from syncd.scopes import resolve as resolve_scope
from syncd.sources import SourceFile, read_sources
from syncd.spec import Schedule
from syncd.validate import check_across, context_hash, source_hash, validate_file

if TYPE_CHECKING:
    from syncd.store import Connection, RevisionInfo

    # Runs under the apply lock, in the write transaction: (conn, current revision) -> the
    # plan, and the file manifest of its scope to record (None: leave the manifest).
    Planner = Callable[
        [Connection, int | None], tuple[Plan, Mapping[str, tuple[str, list[str]]] | None]
    ]

log = logging.getLogger(__name__)


# The file manifest: (scope, path) -> (source hash, names) of the files the last apply of
# each scope read (store.read_manifest); one run writes its own scope's entries.
Manifest = Mapping[tuple[str | None, str], tuple[str, list[str]]]


@dataclass
class Gathered:
    """What the files say, as far as a plan needs to know."""

    schedules: list[Schedule] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # name -> "PATH:LINE" of skipped files
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # path->(hash, names)
    parsed: int = 0
    skipped: int = 0
    scope: str | None = None  # the run's scope (syncd.scopes.resolve)


def _unchanged(
    before: tuple[str, list[str]], sh: str, path: str, scope: str | None, clean: Mapping[str, Row]
) -> bool:
    """A file may be skipped: same hash, and every name it declared is still a managed,
    undrifted row of the same scope from this file."""
    return before[0] == sh and all(
        n in clean
        and clean[n].source_hash == sh
        and clean[n].scope == scope
        and (clean[n].source or "").rpartition(":")[0] == path
        for n in before[1]
    )


def gather(
    sources: Sequence[SourceFile],
    rows: Sequence[Row],
    previous: Manifest,
    *,
    registry: Collection[str] | None,
    default_timezone: str,
    read_diagnostics: Sequence[Diagnostic] = (),
    limits: SizeLimits = DEFAULT_SIZE_LIMITS,
    scope: str | None = None,
) -> Gathered:
    """Validate what changed; carry over what did not; find the run's scope (`scope` is
    `--scope`). Pure: no I/O."""
    context = context_hash(registry, default_timezone, limits, scope)
    clean = {r.name: r for r in rows if r.managed and not r.drifted}
    by_path: dict[str, list[tuple[str | None, tuple[str, list[str]]]]] = {}
    for (entry_scope, path), before in previous.items():
        by_path.setdefault(path, []).append((entry_scope, before))
    out = Gathered(diagnostics=list(read_diagnostics))
    results = []
    scopes: list[FileScope] = []
    for source in sources:
        sh = source_hash(source.digest, context)
        hit = next(
            (
                (entry_scope, before)
                for entry_scope, before in by_path.get(source.path, ())
                if _unchanged(before, sh, source.path, entry_scope, clean)
            ),
            None,
        )
        if hit is not None:
            # The hash covers the bytes and --scope, so the scope is the one recorded.
            entry_scope, before = hit
            for name in before[1]:
                out.kept[name] = clean[name].source or source.path
            out.files[source.path] = before
            out.skipped += 1
            declared = None if entry_scope == scope else entry_scope
            scopes.append(FileScope(source.path, declared))
            continue
        result = validate_file(
            source,
            registry=registry,
            context=context,
            default_timezone=default_timezone,
            limits=limits,
        )
        out.parsed += 1
        results.append(result)
        out.diagnostics.extend(result.diagnostics)
        out.schedules.extend(result.schedules)
        out.files[source.path] = (sh, [s.name for s in result.schedules])
        scopes.append(result.scope or FileScope(source.path, None))
    out.diagnostics.extend(check_across(results, known=out.kept))
    out.scope, mismatched = resolve_scope(scopes, scope)
    out.diagnostics.extend(mismatched)
    out.diagnostics = sorted(set(out.diagnostics))
    return out


@dataclass(frozen=True)
class Signal:
    """Where the pipeline's last step tells the beat that a revision was committed: Redis
    (`{prefix}:revision`, raised and published). No Redis: the beat polls the database
    revision alone. A failure to tell is a warning, never an error: the revision is
    committed and the beat's poll finds it."""

    redis_url: str | None = None
    prefix: str = "syncd"
    warn: Callable[[str], None] = log.warning


@dataclass(frozen=True)
class Options:
    paths: Sequence[str]
    registry: Collection[str] | None = None
    default_timezone: str = "UTC"
    limits: SizeLimits = DEFAULT_SIZE_LIMITS
    prune: bool = True
    adopt: bool = False
    guards: Guards = field(default_factory=Guards)
    # Read `paths` below this directory, naming files by `paths` alone (serve reads a
    # commit's tree from a temporary directory; rows and diagnostics keep repo paths).
    root: str | None = None
    signal: Signal = field(default_factory=Signal)
    # `--scope`: the scope of every file that names none (syncd.scopes).
    scope: str | None = None


def _read(options: Options) -> tuple[list[SourceFile], list[Diagnostic]]:
    if options.root is None:
        return read_sources(options.paths)
    root = options.root.rstrip(os.sep) + os.sep
    sources, diagnostics = read_sources([os.path.join(root, p) for p in options.paths])

    def strip(path: str) -> str:
        return path[len(root) :] if path.startswith(root) else path

    return (
        [SourceFile(strip(s.path), s.data, s.digest) for s in sources],
        [
            dataclasses.replace(d, path=strip(d.path), message=d.message.replace(root, ""))
            for d in diagnostics
        ],
    )


def plan_from(
    conn: Connection | None, options: Options, revision: int | None
) -> tuple[Plan, Gathered]:
    """Load the files, read the rows, validate what changed and diff (no connection:
    against an empty table). Raises InvalidSchedules on any error."""
    from syncd import store

    sources, read_diags = _read(options)
    rows = store.snapshot(conn) if conn is not None else []
    previous = store.read_manifest(conn) if conn is not None else {}
    gathered = gather(
        sources,
        rows,
        previous,
        registry=options.registry,
        default_timezone=options.default_timezone,
        limits=options.limits,
        read_diagnostics=read_diags,
        scope=options.scope,
    )
    if gathered.diagnostics:
        raise InvalidSchedules(gathered.diagnostics)
    plan = make_plan(
        gathered.schedules,
        rows,
        prune=options.prune,
        adopt=options.adopt,
        revision=revision,
        keep=gathered.kept,
        scope=gathered.scope,
    )
    if plan.errors:
        raise InvalidSchedules(list(plan.errors))
    if conn is not None:
        names = {r.name for r in rows}
        held = paused_now(store.pauses(conn), names, datetime.now(UTC))
        plan = dataclasses.replace(plan, paused=held)
    return plan, gathered


@collector_paused
def plan(url: str, options: Options) -> Plan:
    """`syncd plan`: changes nothing (a database without tables plans against nothing; a
    SQLite file that does not exist is not created: the plan is made against nothing)."""
    from syncd import store

    if not store.database_exists(url):
        result, _ = plan_from(None, options, None)
    else:
        with store.connect(url) as conn:
            result, _ = plan_from(conn, options, store.current_revision(conn))
            conn.rollback()
    refusals = check(result, options.guards, datetime.now(UTC))
    if refusals:
        raise Refused(result, refusals)
    return result


def git_commit() -> Callable[[], str | None]:
    """The commit being applied, from the environment or `git rev-parse HEAD`.

    The subprocess starts at once and is read when the revision is written, so it runs
    while the files are planned instead of before (a fork of a large process is tens of
    milliseconds). Call the result in every case: it also reaps the subprocess.
    """
    env = os.environ.get("SYNCD_GIT_COMMIT") or os.environ.get("GITHUB_SHA")
    if env:
        return lambda: env
    try:
        proc = subprocess.Popen(
            ["git", "rev-parse", "HEAD"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    except OSError:
        return lambda: None

    @functools.cache
    def result() -> str | None:
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        return (out.strip() or None) if proc.returncode == 0 else None

    return result


def actor() -> str:
    for var in ("SYNCD_ACTOR", "GITHUB_ACTOR"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _changes_json(plan_value: Plan) -> list[dict[str, Any]]:
    """The change list the revision row keeps: the plan's json, except that a create
    keeps no field values. The new row holds them, and every later update records its
    old and new values, so the history stays complete; a delete keeps the old values
    (the row is gone). A cold apply of 10 000 schedules would otherwise store 4.4 MB of
    json nobody needs, and encoding it was 8% of that apply."""
    changes: list[dict[str, Any]] = plan_dict(plan_value)["changes"]
    for change in changes:
        # Words are for the reader of a plan; the revision keeps the values they describe.
        change.pop("cron_description", None)
        if change["action"] == "create":
            del change["fields"]
    return changes


@dataclass(frozen=True)
class CommitInfo:
    """The git commit an apply comes from, as the revision records it."""

    sha: str
    author: str | None = None
    subject: str | None = None


def signal(target: Signal, revision: int | None) -> None:
    """The pipeline's last step: tell the beat (after commit; a no-op apply tells nothing)."""
    if revision is None or not target.redis_url:
        return
    import redis

    from celeryapp.signal import publish_revision

    try:
        publish_revision(target.redis_url, target.prefix, revision)
    except (redis.RedisError, OSError, ValueError) as exc:
        target.warn(
            f"warning: revision {revision} is committed, but Redis at "
            f"{redact_url(target.redis_url)} could not be told ({redact_url(str(exc))}); "
            "the beat will pick the change up from the database within its poll interval"
        )


@collector_paused
def apply(
    url: str,
    options: Options,
    *,
    lock_timeout: float,
    now: datetime | None = None,
    expected: SavedPlan | None = None,
    progress: Callable[[str], None] | None = None,
    commit_info: CommitInfo | None = None,
    inside: Callable[[Connection, Plan, int | None], None] | None = None,
) -> tuple[Plan, int | None]:
    """`syncd apply`, `watch`, `serve`: load -> validate -> plan -> guards -> write (one
    transaction, under the apply lock) -> signal.

    The plan is made again under the lock (an earlier plan may be stale). With `expected`
    (a saved plan) it must match what was reviewed. The guards judge the fresh plan; a
    refusal raises inside the transaction, so it rolls back and nothing is written.
    `commit_info` names the commit (serve knows it; otherwise git or the environment is
    asked, in a subprocess that runs while the files are planned). `inside(conn, plan,
    revision)` writes more in the same transaction: the controller records the commit it
    made live with the rows it made live, both or neither.
    """
    say = progress or (lambda _phase: None)

    def from_files(
        conn: Connection, current: int | None
    ) -> tuple[Plan, Mapping[str, tuple[str, list[str]]] | None]:
        say("reading and validating the schedule files")
        fresh, gathered = plan_from(conn, options, current)
        if expected is not None:
            expected.check_current(fresh, current)
        return fresh, gathered.files

    commit = git_commit() if commit_info is None else (lambda: commit_info.sha)
    try:
        return pipeline(
            url,
            options,
            from_files,
            lock_timeout=lock_timeout,
            now=now,
            say=say,
            info=lambda fresh, at: _revision_info(fresh, at, commit, commit_info),
            inside=inside,
        )
    finally:
        commit()  # also reaps the git subprocess when the apply failed


def pipeline(
    url: str,
    options: Options,
    planner: Planner,
    *,
    lock_timeout: float,
    info: Callable[[Plan, datetime], RevisionInfo],
    now: datetime | None = None,
    say: Callable[[str], None] = lambda _phase: None,
    inside: Callable[[Connection, Plan, int | None], None] | None = None,
) -> tuple[Plan, int | None]:
    """The steps every write shares (apply, watch, serve, rollback): migrate, take the
    apply lock, plan under it, judge by the guards, write the plan and its revision in one
    transaction, then signal the beat."""
    from syncd import store

    at = now or datetime.now(UTC).replace(microsecond=0)  # whole-second anchors
    say("migrating the database and taking the apply lock")
    store.migrate(url, lock_timeout)
    with store.write_transaction(url, lock_timeout) as conn:
        current = store.current_revision(conn)
        fresh, files = planner(conn, current)
        refusals = check(fresh, options.guards, at)
        if refusals:
            raise Refused(fresh, refusals)
        if files is not None:
            store.write_manifest(conn, files, fresh.scope)
        say(f"writing {len(fresh.changes)} change{'s' * (len(fresh.changes) != 1)}")
        revision = store.write_plan(conn, fresh, info(fresh, at), _changes_json(fresh))
        if inside is not None:
            inside(conn, fresh, revision)
    signal(options.signal, revision)
    return fresh, revision


def _revision_info(
    fresh: Plan, at: datetime, commit: Callable[[], str | None], info: CommitInfo | None
) -> RevisionInfo:
    """What the revision row records; the commit is asked for only when there is one."""
    from syncd.store import RevisionInfo

    if not fresh.changes:
        return RevisionInfo(now=at, actor=actor())
    return RevisionInfo(
        now=at,
        actor=actor(),
        git_commit=commit(),
        git_author=info.author if info else None,
        git_subject=info.subject if info else None,
    )

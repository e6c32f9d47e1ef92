"""`syncd rollback --to REV`: the I/O around the pure walk of `syncd.rollback`. The rows
and the revisions after REV are read under the apply lock, the schedules to write are
validated like files, and the plan goes through `sync.pipeline`, the steps of every apply.
The rollback is REV's scope's: only that scope's rows and later revisions take part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syncd.errors import Diagnostic, InvalidSchedules, Refused, UnknownRevision
from syncd.gcpause import collector_paused
from syncd.guards import check
from syncd.plan import Plan, make_plan
from syncd.sources import SourceFile
from syncd.spec import Schedule, Source
from syncd.sync import Options, actor, pipeline
from syncd.validate import context_hash, validate_file

if TYPE_CHECKING:
    from syncd.rollback import State
    from syncd.store import Connection


def plan_rollback(conn: Connection, options: Options, target: int, current: int | None) -> Plan:
    """The plan that puts the managed rows of `target`'s scope back as they were right after
    revision `target` (syncd.rollback walks that scope's history back); a name another
    scope owns now is an error, as in an apply. Schedules it creates or updates are validated
    as files are, under today's rules and task registry; the others are kept as they stand
    (not re-validated, and a hand edit of them is not blessed). Raises UnknownRevision,
    HistoryGap or InvalidSchedules; changes nothing."""
    from syncd import export, store
    from syncd.rollback import changed_names, in_scope, state_after, state_from_export

    row = store.revision_row(conn, target)
    if row is None:
        raise UnknownRevision(
            f"no revision {target} in the database (the current one is "
            f"{current if current is not None else 'none'}); `syncd history` lists them"
        )
    scope = row.get("scope")
    rows = store.snapshot(conn)
    managed = [r for r in rows if r.managed and r.scope == scope]
    now = state_from_export(export.data(managed)["schedules"], {r.name: r.source for r in managed})
    then = state_after(now, in_scope(store.revisions_after(conn, target), scope))
    names = changed_names(now, then)
    schedules, diagnostics = _rollback_schedules(target, then, names, options)
    if diagnostics:
        raise InvalidSchedules(
            diagnostics,
            f"the schedules as they were at revision {target} are not valid today; "
            "nothing was changed",
        )
    wanted = set(names)
    result = make_plan(
        schedules,
        rows,
        prune=True,
        revision=current,
        keep=[n for n in then.fields if n not in wanted],
        scope=scope,
    )
    if result.errors:
        raise InvalidSchedules(list(result.errors))
    return result


def _rollback_schedules(
    target: int, then: State, names: Sequence[str], options: Options
) -> tuple[list[Schedule], list[Diagnostic]]:
    """Each schedule to write, validated as a one-schedule file; it keeps the source it had
    and no source hash, so the next plan re-reads its file and shows the drift from git."""
    from syncd.rollback import document

    context = context_hash(options.registry, options.default_timezone, options.limits)
    schedules: list[Schedule] = []
    diagnostics: list[Diagnostic] = []
    for name in names:
        data, digest = document(name, then.fields[name])
        result = validate_file(
            SourceFile(f"rollback-to-{target}/{name}", data, digest),
            registry=options.registry,
            context=context,
            default_timezone=options.default_timezone,
            limits=options.limits,
        )
        diagnostics.extend(result.diagnostics)
        for schedule in result.schedules:
            at = schedule.source
            path, _, line = (then.sources.get(name) or "").rpartition(":")
            if path and line.isdigit():
                at = Source(path, int(line))
            schedules.append(dataclasses.replace(schedule, source=at, source_hash=None))
    return schedules, diagnostics


@collector_paused
def rollback_plan(url: str, options: Options, target: int) -> Plan:
    """`syncd rollback --dry-run`: the plan a rollback would apply; changes nothing."""
    from syncd import store

    if not store.database_exists(url):
        raise UnknownRevision(f"no revision {target}: nothing has been applied to this database")
    with store.connect(url) as conn:
        result = plan_rollback(conn, options, target, store.current_revision(conn))
        conn.rollback()
    refusals = check(result, options.guards, datetime.now(UTC))
    if refusals:
        raise Refused(result, refusals)
    return result


@collector_paused
def rollback(
    url: str,
    options: Options,
    target: int,
    *,
    lock_timeout: float,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Plan, int | None]:
    """`syncd rollback --to REV`: the rows as they were right after REV, through the same
    pipeline as an apply (lock, one transaction, guards, revision, signal), recorded as a
    revision of kind "rollback". Pauses are runtime state and stay as they are; the file
    manifest is left alone (the rows no longer match git, and their files are re-read)."""
    from syncd import store
    from syncd.store import RevisionInfo

    if not store.database_exists(url):
        raise UnknownRevision(f"no revision {target}: nothing has been applied to this database")
    say = progress or (lambda _phase: None)

    def from_history(conn: Connection, current: int | None) -> tuple[Plan, None]:
        say(f"working out the schedules at revision {target}")
        return plan_rollback(conn, options, target, current), None

    return pipeline(
        url,
        options,
        from_history,
        lock_timeout=lock_timeout,
        now=now,
        say=say,
        info=lambda _fresh, at: RevisionInfo(
            now=at, actor=actor(), kind="rollback", note=f"rollback to revision {target}"
        ),
    )

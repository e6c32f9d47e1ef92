"""The front half's entry point: files in, `Schedule` values and positioned diagnostics out.

No database and no network: `syncd validate`, `syncd diff` and the pre-commit hook run this
alone. `source_hash` is what makes plans incremental: it covers the file's bytes and
everything else validation depends on, so an equal hash means an equal result.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd import __version__
from syncd.document import Document, PathKey
from syncd.errors import Diagnostic, SyncdError
from syncd.gcpause import collector_paused
from syncd.loader import DEFAULT_SIZE_LIMITS, SizeLimits, parse
from syncd.rules import RULES_VERSION, build, check_schedule
from syncd.schema import schema_bytes, validate_document
from syncd.scopes import FileScope
from syncd.sources import SourceFile, read_sources
from syncd.spec import Schedule, Source

DEFAULT_TIMEZONE = "UTC"


@dataclass
class FileResult:
    path: str
    digest: str
    source_hash: str
    schedules: list[Schedule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    scope: FileScope | None = None  # the file's top-level `scope:` (None: it names none)


def context_hash(
    registry: Collection[str] | None,
    default_timezone: str = DEFAULT_TIMEZONE,
    limits: SizeLimits = DEFAULT_SIZE_LIMITS,
    scope: str | None = None,
) -> str:
    """Everything validation depends on besides the file itself. `scope` is `--scope`: a
    file naming none is in it, so an equal hash means an equal scope too."""
    h = hashlib.sha256()
    if scope is not None:
        h.update(f"scope={scope}\0".encode())
    h.update(schema_bytes())
    h.update(f"\0rules={RULES_VERSION}\0syncd={__version__}\0tz={default_timezone}\0".encode())
    h.update(f"limits={limits.document_bytes},{limits.args_bytes}\0".encode())
    if registry is None:
        h.update(b"registry=none")
    else:
        h.update("\n".join(sorted(registry)).encode())
    return h.hexdigest()


def source_hash(digest: str, context: str) -> str:
    return hashlib.sha256(f"{digest}:{context}".encode()).hexdigest()


def _merge(
    doc: Document, index: int, item: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, PathKey]]:
    defaults = doc.value.get("defaults") or {}
    merged = dict(defaults)
    origin: dict[str, PathKey] = {k: ("defaults", k) for k in defaults}
    for key, value in item.items():
        merged[key] = value
        origin[key] = ("schedules", index, key)
    return merged, origin


def validate_file(
    source: SourceFile,
    *,
    registry: Collection[str] | None = None,
    context: str | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
    limits: SizeLimits = DEFAULT_SIZE_LIMITS,
) -> FileResult:
    """Parse, schema-check and rule-check one file. Never raises for user input."""
    if context is None:
        context = context_hash(registry, default_timezone, limits)
    result = FileResult(source.path, source.digest, source_hash(source.digest, context))
    doc, diagnostics = parse(source, limits)
    if doc is None:
        result.diagnostics = diagnostics
        return result
    if not isinstance(doc.value, dict):
        result.diagnostics = [_not_a_mapping(doc)]
        return result
    schema_diags, broken = validate_document(doc)
    broken |= _trap_parts(doc, schema_diags)
    result.diagnostics.extend(schema_diags)
    declared = doc.value.get("scope")
    if isinstance(declared, str):
        mark = doc.mark(("scope",))
        result.scope = FileScope(doc.path, declared, mark.line, mark.column)
    items = doc.value.get("schedules")
    if isinstance(items, list) and ("defaults",) not in broken:
        # Rules run only on schedules the schema accepted (and only if defaults are sound),
        # so a type error is reported once, not again as a confusing rule failure.
        _check_schedules(
            doc, items, broken, result, registry=registry, tz=default_timezone, limits=limits
        )
    result.diagnostics = sorted(set(result.diagnostics))
    if result.diagnostics:
        result.schedules = []
    return result


def _not_a_mapping(doc: Document) -> Diagnostic:
    mark = doc.mark(())
    kind = "empty" if doc.value is None else f"a {type(doc.value).__name__}"
    return Diagnostic(
        doc.path,
        mark.line,
        mark.column,
        "schema.not-a-mapping",
        f"the file is {kind}; write a mapping with `version: 1` and `schedules:`",
    )


def _check_schedules(
    doc: Document,
    items: list[Any],
    broken: set[PathKey],
    result: FileResult,
    *,
    registry: Collection[str] | None,
    tz: str,
    limits: SizeLimits,
) -> None:
    """Rule-check each schedule the schema accepted; a valid one is built into `result`."""
    seen: dict[str, PathKey] = {}
    for index, item in enumerate(items):
        at: PathKey = ("schedules", index)
        if not isinstance(item, dict) or at in broken:
            continue
        merged, origin = _merge(doc, index, item)
        duplicate = _duplicate_name(doc, at, merged.get("name"), seen)
        if duplicate is not None:
            result.diagnostics.append(duplicate)
            continue
        rule_diags = check_schedule(
            doc, at, merged, origin, default_timezone=tz, registry=registry, size=limits
        )
        if rule_diags:
            result.diagnostics.extend(rule_diags)
            continue
        mark = doc.mark((*at, "name"), key=True)
        result.schedules.append(
            build(merged, Source(doc.path, mark.line, mark.column), result.source_hash)
        )


def _duplicate_name(
    doc: Document, at: PathKey, name: Any, seen: dict[str, PathKey]
) -> Diagnostic | None:
    """A second schedule of the same name in one file (across files: check_across)."""
    if not isinstance(name, str):
        return None
    if name not in seen:
        seen[name] = (*at, "name")
        return None
    first = doc.mark(seen[name])
    mark = doc.mark((*at, "name"))
    return Diagnostic(
        doc.path,
        mark.line,
        mark.column,
        "name.duplicate",
        f"schedule name {name!r} is already used on line {first.line}",
    )


def _trap_parts(doc: Document, diagnostics: Sequence[Diagnostic]) -> set[PathKey]:
    """The parts (defaults, or a schedule) holding a YAML 1.1 trap."""
    trap_lines = {(d.line, d.column) for d in diagnostics if d.code == "yaml.implicit-type"}
    if not trap_lines:
        return set()
    parts: set[PathKey] = set()
    for at, mark in doc.value_marks.items():
        if (mark.line, mark.column) in trap_lines and at[:1] in (("defaults",), ("schedules",)):
            parts.add(at[:2] if at[0] == "schedules" else at[:1])
    return parts


def check_across(
    results: Sequence[FileResult], *, known: Mapping[str, str] | None = None
) -> list[Diagnostic]:
    """Names must be unique across files; each duplicate is reported at both places.

    `known` maps names of schedules in files that were not re-read (their hash matched the
    last apply) to their "PATH:LINE", so duplicates against those count too.
    """
    where: dict[str, list[Source]] = {}
    for result in results:
        for schedule in result.schedules:
            if schedule.source is not None:
                where.setdefault(schedule.name, []).append(schedule.source)
    out: list[Diagnostic] = []
    for name, places in where.items():
        others = [f"{p.path}:{p.line}" for p in places]
        if known and name in known and known[name] not in others:
            others.append(known[name])
        if len(others) < 2:
            continue
        for place in places:
            elsewhere = [o for o in others if o != f"{place.path}:{place.line}"]
            out.append(
                Diagnostic(
                    place.path,
                    place.line,
                    place.column,
                    "name.duplicate",
                    f"schedule name {name!r} is also defined at {', '.join(elsewhere)}; "
                    "names must be unique across all files",
                )
            )
    return sorted(out)


@collector_paused
def load(
    paths: Sequence[str],
    *,
    registry: Collection[str] | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
    limits: SizeLimits = DEFAULT_SIZE_LIMITS,
) -> tuple[list[Schedule], list[Diagnostic]]:
    """Read, validate and cross-check files; schedules are returned only when all is valid."""
    sources, diagnostics = read_sources(paths)
    context = context_hash(registry, default_timezone, limits)
    results = [
        validate_file(
            s,
            registry=registry,
            context=context,
            default_timezone=default_timezone,
            limits=limits,
        )
        for s in sources
    ]
    for result in results:
        diagnostics.extend(result.diagnostics)
    diagnostics.extend(check_across(results))
    if diagnostics:
        return [], sorted(set(diagnostics))
    schedules = [s for r in results for s in r.schedules]
    return sorted(schedules, key=lambda s: s.name), []


def registry_from_app(app_path: str) -> frozenset[str]:
    """Task names registered in a Celery app given as `pkg.module` or `pkg.module:attr`."""
    module_name, _, attr = app_path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise SyncdError(f"cannot import Celery app {app_path!r}: {exc}") from exc
    app = getattr(module, attr or "app", None)
    if app is None:
        app = getattr(module, "celery", None)
    if app is None or not hasattr(app, "tasks"):
        raise SyncdError(
            f"{app_path!r} has no Celery app; give `module:attribute`, e.g. celeryapp.app:app"
        )
    app.loader.import_default_modules()
    app.autodiscover_tasks(list, force=True)
    return frozenset(str(name) for name in app.tasks)

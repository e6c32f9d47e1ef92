"""JSON Schema validation of a parsed file, with every error placed at its key or value.

`syncd/schemas/schedule.schema.json` (package data, read with importlib.resources, printed
by `syncd schema`) is the single source: validation, editor support and the reference docs
(docs/schedules.md) all come from it. `schemas/schedule.schema.json` at the top of the
repository is a copy for editors; tests/unit/test_packaging.py keeps the two identical.

jsonschema is imported only when a file fails the fast check: valid files never pay for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import fastjsonschema

from syncd.bounds import reads_differently
from syncd.document import Document, PathKey
from syncd.errors import Diagnostic, did_you_mean
from syncd.spec import ecma_regex

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_RESOURCE = ("schemas", "schedule.schema.json")  # inside the syncd package

# Fields whose schema type is string: a plain scalar PyYAML resolved to something else
# (YAML 1.1: `no` -> False, `12:30` -> 750, `010` -> 8) is reported as a trap, not a type error.
STRING_FIELDS = frozenset(
    {
        "name",
        "task",
        "cron",
        "every",
        "queue",
        "exchange",
        "routing_key",
        "timezone",
        "start_time",
        "expires",
        "catchup",
        "catchup_window",
        "jitter",
        "overlap",
        "description",
    }
)
# Fields whose schema type is boolean or integer: only the spellings YAML 1.1 and 1.2 agree on.
NUMBER_OR_BOOL_FIELDS = frozenset({"one_off", "enabled", "expire_seconds"})
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", type(None): "null"}


@cache
def schema_bytes() -> bytes:
    return resources.files("syncd").joinpath(*SCHEMA_RESOURCE).read_bytes()


def schema_path() -> str:
    """Where the installed schema file is (a wheel installs package data as plain files)."""
    return str(resources.files("syncd").joinpath(*SCHEMA_RESOURCE))


@cache
def schema() -> dict[str, Any]:
    # The file ships with syncd; tests/unit/test_schemadoc.py checks it against the
    # meta-schema (20 ms a process, so not at run time).
    loaded: dict[str, Any] = json.loads(schema_bytes())
    return loaded


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    """jsonschema's `pattern` with ECMA-262's `$` (fastjsonschema already reads it so)."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator() -> Draft202012Validator:
    # jsonschema is imported only when a file has errors (it costs a whole-process validate
    # about a third of its time); the fast path is the generated checker.
    from jsonschema import Draft202012Validator, validators

    extended = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
    return cast("Draft202012Validator", extended(schema()))


@cache
def _fast() -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema: ~9x faster on valid files.

    It only says yes or no; every "no" is re-checked by jsonschema, which places each error.
    Our schema uses nothing draft-07 lacks, so it is compiled under that draft's dialect
    (tests/unit/test_schema_fast.py checks both validators agree).
    """
    fast_schema = fast_dialect()
    # Generating and compiling the checker costs more than all of validate's imports, on
    # every run of a one-file pre-commit hook; so the code is generated once, shipped as
    # syncd/_schema_fast.py (python -m syncd.schemacode), and used while it matches.
    try:
        from syncd import _schema_fast as generated
    except ImportError:  # pragma: no cover - a source tree without the generated module
        pass
    else:
        if schema_digest() == generated.SCHEMA_SHA256:
            return cast(Callable[[Any], Any], generated.validate)
    # use_default=False: fastjsonschema would otherwise write each `default` into the
    # document, over the file's `defaults:` mapping (the schema's defaults are for editors;
    # the loader applies its own, and tests/unit/test_editor_schema.py keeps them equal).
    return cast(Callable[[Any], Any], fastjsonschema.compile(fast_schema, use_default=False))


def schema_digest() -> str:
    return hashlib.sha256(schema_bytes()).hexdigest()


def fast_dialect() -> dict[str, Any]:
    """The schema as fastjsonschema checks it (draft-07, without oneOf/not)."""
    full = schema()
    constraints = {k: full["$defs"]["schedule"].get(k) for k in _CHECKED_IN_PYTHON}
    if constraints != _EXCLUSIVE:  # pragma: no cover - guards a schema edit
        raise RuntimeError("the schema's oneOf/not changed; update _exclusive_fields_ok")
    # fastjsonschema checks `oneOf` and `not` by raising and catching an exception per
    # branch: two exceptions per valid schedule, a third of the validation time. Those two
    # constraints are checked in `_exclusive_fields_ok` instead; jsonschema keeps them all.
    schedule = {k: v for k, v in full["$defs"]["schedule"].items() if k not in _CHECKED_IN_PYTHON}
    return {
        **full,
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$defs": {**full["$defs"], "schedule": schedule},
    }


_CHECKED_IN_PYTHON = ("oneOf", "not")
_EXCLUSIVE = {
    "oneOf": [{"required": ["cron"]}, {"required": ["every"]}],
    "not": {"required": ["expires", "expire_seconds"]},
}


def _exclusive_fields_ok(value: Any) -> bool:
    """The schedule schema's `oneOf` (exactly one of cron, every) and `not` (not both
    expiries), for a document the rest of the schema already accepted."""
    for item in value.get("schedules") or ():
        if ("cron" in item) == ("every" in item) or (
            "expires" in item and "expire_seconds" in item
        ):
            return False
    return True


def is_valid_fast(value: Any) -> bool:
    try:
        _fast()(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return _exclusive_fields_ok(value)


def schedule_fields() -> tuple[str, ...]:
    return tuple(schema()["$defs"]["schedule"]["properties"])


def _diag(doc: Document, at: PathKey, code: str, message: str, *, key: bool = False) -> Diagnostic:
    mark = doc.mark(at, key=key)
    return Diagnostic(doc.path, mark.line, mark.column, code, message)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def yaml_traps(doc: Document) -> list[Diagnostic]:
    """Plain scalars that YAML 1.1 turned into bools/numbers where a string is wanted."""
    out: list[Diagnostic] = []
    for at, info in doc.implicit_scalars():
        if not info.plain or not at or not isinstance(at[-1], str):
            continue
        if len(at) not in (2, 3) or at[0] not in ("defaults", "schedules"):
            continue
        if at[-1] in NUMBER_OR_BOOL_FIELDS:
            if reads_differently(info.tag, info.raw):
                # `enabled: yes`: true to PyYAML, a string to the editor's YAML 1.2.
                out.append(
                    _diag(
                        doc,
                        at,
                        "yaml.implicit-type",
                        f"{at[-1]}: `{info.raw}`: only plain decimal numbers and true/false "
                        "mean the same in YAML 1.1 (syncd) and YAML 1.2 (editors, the JSON "
                        "Schema); write "
                        + ("true or false" if info.tag.endswith("bool") else "it in decimal"),
                    )
                )
            continue
        if at[-1] not in STRING_FIELDS:
            continue
        kind = info.tag.rsplit(":", 1)[-1]
        if kind == "null":
            # `queue:` or `queue: null` is not a trap but an empty value: say how to unset.
            out.append(
                _diag(
                    doc,
                    at,
                    "schema.type",
                    f"{at[-1]}: the value is empty (null); give a value, or remove the key "
                    "to leave it unset",
                )
            )
        elif kind in ("bool", "int", "float"):
            word = {"bool": "a boolean", "int": "an integer", "float": "a number"}
            field = at[-1]
            fix = f'quote it: {field}: "{info.raw}"'
            if field in ("every", "catchup_window", "jitter") and kind == "int":
                fix = f"durations need a unit: {field}: {info.raw}s"
            out.append(
                _diag(
                    doc,
                    at,
                    "yaml.implicit-type",
                    f"{field}: `{info.raw}` was read as {word[kind]} (YAML 1.1), not as text; "
                    + fix,
                )
            )
    return out


def _unknown_keys(doc: Document, error: ValidationError, at: PathKey) -> list[Diagnostic]:
    allowed = list(error.schema.get("properties", {}))
    in_defaults = at[:1] == ("defaults",)
    out = []
    for key in error.instance:
        if key in allowed:
            continue
        fix = did_you_mean(key, allowed) or f"; allowed keys: {', '.join(allowed)}"
        if in_defaults and key in ("name", "task", "cron", "every"):
            fix = f"; {key!r} cannot have a default, set it on each schedule"
        where = "in defaults" if in_defaults else "here"
        message = f"unknown key {key!r} {where}{fix}"
        out.append(_diag(doc, (*at, key), "schema.unknown-key", message, key=True))
    return out


def _missing_keys(doc: Document, error: ValidationError, at: PathKey) -> list[Diagnostic]:
    missing = [k for k in error.validator_value if k not in error.instance]
    what = "the file" if not at else ("schedule" if at[0] == "schedules" else "mapping")
    return [
        _diag(doc, at, "schema.required", f"{what} is missing required key {k!r}") for k in missing
    ]


def _timing(doc: Document, error: ValidationError, at: PathKey) -> list[Diagnostic]:
    if any(k in error.instance for k in ("cron", "every")):
        message = "set either `cron` or `every`, not both"
        return [_diag(doc, (*at, "every"), "schema.cron-and-every", message, key=True)]
    message = "schedule needs exactly one of `cron` or `every`"
    return [_diag(doc, at, "schema.no-timing", message)]


def _both_expiries(doc: Document, _error: ValidationError, at: PathKey) -> list[Diagnostic]:
    message = "set either `expires` or `expire_seconds`, not both"
    return [_diag(doc, (*at, "expire_seconds"), "schema.expires-conflict", message, key=True)]


# Keywords about a mapping's keys: reported only when the instance is a mapping.
_MAPPING_ERRORS: dict[str, Callable[[Document, ValidationError, PathKey], list[Diagnostic]]] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_keys,
    "oneOf": _timing,
    "not": _both_expiries,
}


def _type_name(instance: Any) -> str:
    if isinstance(instance, list):
        return "list"
    if isinstance(instance, dict):
        return "mapping"
    return _TYPE_NAMES.get(type(instance)) or "string"


_PATTERN_HINTS = {
    "name": "use lowercase letters, digits and _ . : - (at most 64, starting with a "
    "letter or digit)",
    "every": "write a duration like 30s, 5m, 1h30m, 1d (units d h m s, in that order)",
    "catchup_window": "write a duration like 30s, 5m, 1h30m, 1d",
    "jitter": "write a duration like 30s, 5m, 1h30m, 1d",
    "start_time": "write an RFC 3339 time with an offset, like 2026-03-01T09:00:00+01:00",
    "expires": "write an RFC 3339 time with an offset, like 2026-12-31T23:59:59Z",
    "task": "write a dotted Python name, like reports.send_daily",
    "headers": "a header name is letters, digits and _ . - (at most 128, starting with a "
    "letter or digit), like x-team",
}


def _pattern(field: str, instance: Any) -> tuple[str, str]:
    """The code and message of a value that does not match its pattern."""
    hint = _PATTERN_HINTS.get(field, f"see docs/schedules.md#{field}")
    naive = field in ("start_time", "expires") and isinstance(instance, str)
    if naive and _NAIVE.match(instance):
        return (
            "schema.naive-time",
            f"{field}: {_show(instance)} has no UTC offset; a naive time is ambiguous: {hint}",
        )
    return "schema.pattern", f"{field}: {_show(instance)} is invalid: {hint}"


def _value_error(error: ValidationError, field: str) -> tuple[str, str]:
    """The code and message of a value the schema refuses (type, enum, pattern, range)."""
    validator, instance, limit = str(error.validator), error.instance, error.validator_value
    shown = _show(instance)
    if validator == "type":
        return "schema.type", f"{field}: expected {limit}, got {_type_name(instance)} {shown}"
    if validator == "enum":
        return "schema.enum", f"{field}: {shown} is not one of {', '.join(map(repr, limit))}"
    if validator == "const":
        return "schema.version", f"version: {shown} is not supported; this syncd reads version 1"
    if validator == "pattern":
        return _pattern(field, instance)
    if validator in ("minimum", "exclusiveMinimum"):
        return "schema.minimum", f"{field}: {shown} must be at least {limit}"
    if validator == "maximum":
        return "schema.maximum", f"{field}: {shown} must be at most {limit}"
    if validator in ("minLength", "maxLength"):
        return (
            f"schema.{validator.lower()}",
            f"{field}: {shown} {error.message.split(' is ', 1)[-1]}",
        )
    return f"schema.{validator}", f"{field}: {error.message}"


def _error_diag(doc: Document, error: ValidationError) -> list[Diagnostic]:
    at: PathKey = tuple(error.absolute_path)
    by_keys = _MAPPING_ERRORS.get(str(error.validator))
    if by_keys is not None and isinstance(error.instance, dict):
        return by_keys(doc, error, at)
    code, message = _value_error(error, str(at[-1]) if at else "file")
    return [_diag(doc, at, code, message)]


def validate_document(doc: Document) -> tuple[list[Diagnostic], set[PathKey]]:
    """Schema diagnostics for a parsed file (YAML 1.1 traps take precedence at their path),
    and the parts that had errors: ("defaults",) and ("schedules", i)."""
    traps = yaml_traps(doc)
    if not traps and is_valid_fast(doc.value):
        return [], set()
    trapped = {(d.line, d.column) for d in traps}
    out = list(traps)
    broken: set[PathKey] = set()
    errors = sorted(_validator().iter_errors(doc.value), key=lambda e: list(map(str, e.path)))
    # A value of the wrong type is reported once, as a type error, not again by every
    # keyword that only applies to mappings (oneOf/not/required).
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    errors = [e for e in errors if e.validator == "type" or tuple(e.absolute_path) not in mistyped]
    for error in errors:
        path = tuple(error.absolute_path)
        broken.add(path[:2] if path[:1] == ("schedules",) else path[:1])
        for diag in _error_diag(doc, error):
            if (diag.line, diag.column) not in trapped:
                out.append(diag)
    if not errors and not traps:
        # The fast validator said no and jsonschema found nothing: never let such a file
        # through as valid (a trailing newline once passed this way).
        out.append(_diag(doc, (), "schema.disagree", "the file does not match the schema"))
        broken.add(())
    return sorted(set(out)), broken

"""Values that validate fit their columns on every database and survive the beat's arithmetic.

The schema checks shapes; these rules check magnitudes and characters against
`celeryapp.limits` (the numbers the table is declared with), so no file that validates
fails at apply ("integer out of range", "invalid byte sequence") or in `syncd next`
(OverflowError). They also hold args and kwargs to the rule the rest of the file follows:
a plain YAML 1.1 value that another YAML reader (YAML 1.2: editors, most tools) would read
differently is an error that says to quote it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import yaml

from celeryapp import limits
from syncd.document import Document, PathKey
from syncd.errors import Diagnostic
from syncd.loader import SizeLimits
from syncd.spec import format_duration, parse_duration
from syncd.yamlgraph import args_too_large

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Fields that name things (queues, zones, tasks): no control or bidi characters at all.
IDENTIFIER_FIELDS = ("name", "task", "cron", "queue", "exchange", "routing_key", "timezone")
TEXT_FIELDS = (*IDENTIFIER_FIELDS, "description")
# Unicode category Cc (C0, DEL, C1) and the bidi controls.
_IDENTIFIER_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TEXT_BAD = re.compile("\x00")
_INT_12 = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")
_FLOAT_12 = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")
_BOOL_12 = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_NON_FINITE = frozenset({".inf", "+.inf", "-.inf", ".nan"})
# Plain text that YAML 1.1 leaves a string and YAML 1.2's core schema reads as a number.
_NUMBER_12 = re.compile(
    r"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)\Z"
)
_CORE = "tag:yaml.org,2002:"

Where = Callable[[str], PathKey]
# What a message carries as JSON: checked value by value, and bounded in size.
ARGUMENT_FIELDS = ("args", "kwargs", "headers")


def _diag(doc: Document, at: PathKey, code: str, message: str, *, key: bool = False) -> Diagnostic:
    mark = doc.mark(at, key=key)
    return Diagnostic(doc.path, mark.line, mark.column, code, message)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _bad_character(text: str, *, identifier: bool) -> str | None:
    """The first character a column or a reader cannot take, as U+XXXX, if any."""
    # Regular expressions, not a loop over characters: this runs for every text field of
    # every schedule of a 10 000-schedule apply.
    bad = (_IDENTIFIER_BAD if identifier else _TEXT_BAD).search(text)
    return None if bad is None else f"U+{ord(bad.group()):04X}"


def check_text(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    # One search over the joined fields first: this runs for every schedule.
    texts = [v for f in TEXT_FIELDS if isinstance(v := merged.get(f), str)]
    if not _IDENTIFIER_BAD.search("".join(texts)):
        return []
    out = []
    for field in TEXT_FIELDS:
        value = merged.get(field)
        if not isinstance(value, str):
            continue
        bad = _bad_character(value, identifier=field in IDENTIFIER_FIELDS)
        if bad is None:
            continue
        code = "value.nul" if bad == "U+0000" else "value.control-character"
        why = (
            "no database column stores it"
            if bad == "U+0000"
            else f"{field} takes no control or bidi characters (they hide in review and logs)"
        )
        out.append(
            _diag(
                doc,
                where(field),
                code,
                f"{field}: {_shown(value)} contains the character {bad}; {why}; remove it",
            )
        )
    return out


def check_magnitudes(doc: Document, merged: Mapping[str, Any], where: Where) -> list[Diagnostic]:
    """Durations within the Integer column, instants within what every database and the
    time arithmetic hold. The instants that pass are safe to compare."""
    out = []
    for field in ("every", "catchup_window", "jitter"):
        seconds = parse_duration(merged[field]) if isinstance(merged.get(field), str) else None
        if seconds is not None and seconds > limits.INT_MAX:
            out.append(
                _diag(
                    doc,
                    where(field),
                    "duration.too-long",
                    f"{field}: {_shown(merged[field])} is longer than "
                    f"{format_duration(limits.INT_MAX)} ({limits.INT_MAX} seconds, about 68 "
                    "years), the longest the schedule table stores",
                )
            )
    for field in ("start_time", "expires"):
        value = _instant(merged.get(field))
        if value is None:
            continue
        try:
            inside = limits.EARLIEST_TIME <= value.astimezone(UTC) < limits.LATEST_TIME
        except OverflowError:  # 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
            inside = False
        if not inside:
            out.append(
                _diag(
                    doc,
                    where(field),
                    "time.out-of-range",
                    f"{field}: {_shown(merged[field])} is outside the supported range "
                    f"{limits.EARLIEST_TIME:%Y-%m-%d} to {limits.LATEST_TIME:%Y-%m-%d} (UTC)",
                )
            )
    return out


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def check_arguments(
    doc: Document, merged: Mapping[str, Any], where: Where, size: SizeLimits
) -> list[Diagnostic]:
    """args, kwargs and headers: JSON every database stores as written, within the size
    bound."""
    out: list[Diagnostic] = []
    for field in ARGUMENT_FIELDS:
        value = merged.get(field)
        if value is None:
            continue
        at = where(field)
        node = doc.node(at)
        if node is None:  # pragma: no cover - the value was built from this node
            continue
        found: list[Diagnostic] = []
        _walk_arguments(doc, node, value, at, found)
        if found:
            out += sorted(found)
            continue
        # Without aliases JSON is at most ~10x the YAML text it came from (`{a: }` is
        # `{"a": null}`); aliases were measured on the node graph by the loader.
        if (node.end_mark.index - node.start_mark.index) * 10 < size.args_bytes:
            continue
        nbytes = len(json.dumps(value, ensure_ascii=False).encode())
        if nbytes > size.args_bytes:
            out.append(
                _diag(doc, at, "args.too-large", args_too_large(at, nbytes, size.args_bytes))
            )
    return out


def _walk_arguments(
    doc: Document, node: yaml.Node, item: Any, here: PathKey, out: list[Diagnostic]
) -> None:
    """The nodes and the values built from them, side by side (a mapping's items are in
    the order of its nodes): values no column stores as written, and plain scalars that
    YAML 1.1 reads otherwise than YAML 1.2. Runs for every schedule with arguments."""
    cls = item.__class__
    if cls is list:
        for i, (child, value) in enumerate(zip(node.value, item, strict=True)):
            if value.__class__ is str and child.style and "\x00" not in value:
                continue  # a quoted string: the common case, nothing to check
            _walk_arguments(doc, child, value, (*here, i), out)
        return
    if cls is dict:
        for (k, child), (key, value) in zip(node.value, item.items(), strict=True):
            at = (*here, key)
            if "\x00" in key:
                out.append(_diag(doc, at, "value.nul", f"key {_shown(key)} contains U+0000"))
            elif key != k.value and not k.style and _implicit(doc, k):
                out.append(
                    _diag(
                        doc,
                        at,
                        "yaml.implicit-type",
                        f"key `{k.value}` was read as {_kind(k.tag)} (YAML 1.1) and "
                        f'would be stored as "{key}"; quote it: "{k.value}":',
                        key=True,
                    )
                )
            _walk_arguments(doc, child, value, at, out)
        return
    problem = _value_problem(item)
    if problem is not None:
        out.append(_diag(doc, here, *problem))
    elif (
        isinstance(node, yaml.ScalarNode)
        and not node.style
        and reads_differently(node.tag, node.value)
        and _implicit(doc, node)
    ):
        out.append(
            _diag(
                doc,
                here,
                "yaml.implicit-type",
                f"`{node.value}` was read as {_kind(node.tag)} (YAML 1.1); only plain "
                "decimal numbers and true/false mean the same to every YAML reader: "
                f'quote it ("{node.value}") or write '
                + ("true or false" if node.tag.endswith("bool") else "it in decimal"),
            )
        )


def _value_problem(item: Any) -> tuple[str, str] | None:
    cls = item.__class__
    if cls is str:
        return (
            ("value.nul", f"{_shown(item)} contains U+0000; remove it") if "\x00" in item else None
        )
    if cls is float and not math.isfinite(item):
        return (
            "value.not-finite",
            f"{item} is not a JSON number; PostgreSQL refuses it and SQLite would store it "
            "differently (quote it if it is text)",
        )
    if cls is int and not INT64_MIN <= item <= INT64_MAX:
        return (
            "value.out-of-range",
            f"{item} does not fit in 64 bits; MySQL would store it rounded (quote it if it is "
            "text)",
        )
    return None


def _implicit(doc: Document, node: yaml.Node) -> bool:
    """Whether the node's tag came from YAML 1.1's resolution of its text, not from an
    explicit tag (`!!str 1e3` is unambiguous to every reader)."""
    return not doc.tagged(node)


def reads_differently(tag: str, raw: str) -> bool:
    """Whether a plain scalar YAML 1.1 resolved to `tag` means something else in YAML 1.2
    (`yes`, `010`, `0x1F`, `1:30`, `1_000`): only plain decimal and true/false agree."""
    kind = tag.removeprefix(_CORE)
    if kind == "str":
        return bool(_NUMBER_12.match(raw))  # `1e3`, `0o17`: text here, numbers to editors
    if kind == "bool":
        return raw not in _BOOL_12
    if kind == "int":
        return not _INT_12.match(raw)
    if kind == "float":
        return raw.lower() not in _NON_FINITE and not _FLOAT_12.match(raw)
    return False


def _kind(tag: str) -> str:
    return {"bool": "a boolean", "int": "an integer", "float": "a number", "null": "null"}.get(
        tag.removeprefix(_CORE), "a value"
    )

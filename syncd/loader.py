"""Turn the YAML of a schedule file into plain values that remember where they came from.

Pure: it parses the bytes syncd.sources read (or git gave, for `syncd diff`).

PyYAML's C loader composes the node graph (libyaml does the parsing); we construct the
values ourselves so that

* every value keeps its file, line and column (errors point at the offending key or value);
* nothing but the core YAML types is ever constructed (no `!!python/object`, no custom tags);
* aliases are counted on the composed graph *before* anything is expanded, so an alias bomb
  fails at once in bounded memory;
* duplicate keys, extra documents, non-UTF-8 bytes and oversized files are errors, not
  silently "last key wins" or mojibake;
* scalars keep their resolved YAML 1.1 type *and* whether they were quoted, so the rules can
  say "`no` was read as a boolean; quote it" instead of storing `False` as a queue name.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, cast

import yaml

from celeryapp.limits import MAX_ARGS_BYTES, MAX_DOCUMENT_BYTES
from syncd.document import Document, Mark, key_text
from syncd.document import LoadError as _LoadError
from syncd.document import node_mark as _mark
from syncd.document import scalar as _scalar
from syncd.errors import Diagnostic
from syncd.sources import MAX_FILE_BYTES, SourceFile
from syncd.yamlgraph import MAX_DEPTH, GraphLimit, check_graph

if not getattr(yaml, "__with_libyaml__", False):  # pragma: no cover - environment check
    raise ImportError(
        "PyYAML was built without libyaml; syncd needs its C loader "
        "(reinstall PyYAML from a wheel, or install libyaml-dev and rebuild it)"
    )


_CORE = "tag:yaml.org,2002:"
# What YAML forbids in a stream: C0 controls but tab/LF/CR, DEL, C1 controls but NEL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f\ufffe\uffff]")
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_STR, _SEQ, _MAP, _MERGE = (f"{_CORE}{t}" for t in ("str", "seq", "map", "merge"))


class SizeLimits(NamedTuple):
    """Bytes of JSON after alias expansion: the whole document, and one args or kwargs."""

    document_bytes: int = MAX_DOCUMENT_BYTES
    args_bytes: int = MAX_ARGS_BYTES


DEFAULT_SIZE_LIMITS = SizeLimits()


_DEFAULT_TAGS = {
    yaml.ScalarNode: _STR,
    yaml.SequenceNode: _SEQ,
    yaml.MappingNode: _MAP,
}
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag, shared by all files
_PLAIN_TAGS_MAX = 100_000


class _Loader(yaml.CSafeLoader):
    """The C safe loader with a memo on implicit resolution.

    libyaml calls back into Python's resolver for every node; resolving a plain scalar
    tries the YAML 1.1 regular expressions for its first character. Keys (`name`, `task`,
    `cron`, ...) and many values repeat thousands of times across a tree, and the result
    depends on the text alone (the safe loader has no path resolvers), so it is memoized.
    """

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
                if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
                    _PLAIN_TAGS.clear()
                _PLAIN_TAGS[value] = tag
            return tag
        return _DEFAULT_TAGS[kind]


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise _LoadError(
            Mark(line, column),
            "file.encoding",
            f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _CONTROL.search(text)
    if bad:
        prefix = text[: bad.start()]
        line = prefix.count("\n") + 1
        column = bad.start() - (prefix.rfind("\n") + 1) + 1
        code = "file.binary" if bad.group() == "\x00" else "yaml.control-character"
        raise _LoadError(
            Mark(line, column),
            code,
            f"control character U+{ord(bad.group()):04X} is not allowed in YAML; "
            "remove it (write it escaped in a double-quoted string if it is meant)",
        )
    return text


def _construct(node: yaml.Node, depth: int = 0) -> Any:
    """Plain values from the node tree; anything but the core YAML types is refused.

    Hot path (every node of every file): exact class checks, no per-node bookkeeping.
    """
    if depth > MAX_DEPTH:
        raise _LoadError(_mark(node), "yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels")
    cls = node.__class__
    if cls is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag not in _SCALAR_TAGS:
            raise _LoadError(
                _mark(node),
                "yaml.tag",
                f"tag {tag!r} is not allowed; schedule files hold plain YAML values only",
            )
        return _scalar(cast("yaml.ScalarNode", node))
    if cls is yaml.SequenceNode:
        if node.tag != _SEQ:
            raise _LoadError(_mark(node), "yaml.tag", f"tag {node.tag!r} is not allowed")
        return [
            child.value
            if child.__class__ is yaml.ScalarNode and child.tag == _STR
            else _construct(child, depth + 1)
            for child in node.value
        ]
    if cls is yaml.MappingNode:
        if node.tag != _MAP:
            raise _LoadError(_mark(node), "yaml.tag", f"tag {node.tag!r} is not allowed")
        return _construct_mapping(cast("yaml.MappingNode", node), depth)
    raise _LoadError(_mark(node), "yaml.node", "unsupported YAML node")  # pragma: no cover


def _construct_mapping(node: yaml.MappingNode, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _mapping_key(key_node)
        if key in out:
            first = next(k for k, _ in node.value if key_text(k) == key)
            raise _LoadError(
                _mark(key_node),
                "yaml.duplicate-key",
                f"duplicate key {key!r}; it is first set on line {_mark(first).line}",
            )
        if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR:
            out[key] = value_node.value  # the common case, without a call
        else:
            out[key] = _construct(value_node, depth + 1)
    return out


def _mapping_key(key_node: yaml.Node) -> str:
    if key_node.__class__ is not yaml.ScalarNode or key_node.tag == _MERGE:
        raise _LoadError(
            _mark(key_node),
            "yaml.key",
            "mapping keys must be plain strings (no merge keys `<<`, no complex keys)",
        )
    if key_node.tag == _STR:
        return str(key_node.value)
    if key_node.tag not in _SCALAR_TAGS:
        raise _LoadError(
            _mark(key_node),
            "yaml.tag",
            f"tag {key_node.tag!r} is not allowed; schedule files hold plain YAML values only",
        )
    return str(_scalar(key_node))


def _check_graph(root: yaml.Node, limits: SizeLimits) -> None:
    try:
        check_graph(root, document_bytes=limits.document_bytes, args_bytes=limits.args_bytes)
    except GraphLimit as exc:
        raise _LoadError(_mark(exc.node), exc.code, exc.message) from None


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, index: int | None) -> tuple[str, str]:
    """libyaml's complaint, reworded where it misleads: a tab, a value starting with `*`."""
    problem = exc.problem or "invalid YAML"
    if "single document" in str(exc):
        return "yaml.multiple-documents", (
            "a schedules file holds one YAML document; remove the extra `---`"
        )
    at = text[index] if index is not None and 0 <= index < len(text) else ""
    # libyaml words a tab two ways: where a token should start ("cannot start any token")
    # and inside a block ("a tab character that violates indentation", e.g. `\ttask:`).
    if (at == "\t" and "cannot start any token" in problem) or "tab character" in problem:
        return "yaml.tab", "a tab character is used for indentation here; YAML indents with spaces"
    if exc.context == "while scanning an alias" or problem.startswith("found undefined alias"):
        # `cron: */5 * * * *` unquoted: `*` starts an alias in YAML.
        return "yaml.unquoted-star", (
            'a value starting with `*` is read as a YAML alias; quote it, like cron: "*/5 * * * *"'
        )
    return "yaml.syntax", problem


def parse(
    source: SourceFile, limits: SizeLimits = DEFAULT_SIZE_LIMITS
) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one file into a Document, or return the one positioned reason it cannot be."""
    doc = Document(source.path, None)
    text = ""
    try:
        if len(source.data) > MAX_FILE_BYTES:
            raise _LoadError(
                Mark(1, 1), "file.too-large", f"file is larger than {MAX_FILE_BYTES} bytes"
            )
        text = _decode(source.data)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None:
            doc.value = None
            return doc, []
        if "&" in text or len(text) * 8 > limits.document_bytes:
            # Without anchors there are no aliases: the graph is a tree no larger than the
            # (size-capped) file, its JSON at most a few times the text, and _construct
            # bounds its depth itself. args/kwargs of such a file are measured by the rules.
            _check_graph(root, limits)
        doc.root, doc.text = root, text
        doc.value = _construct(root)
    except _LoadError as exc:
        return None, [
            Diagnostic(source.path, exc.mark.line, exc.mark.column, exc.code, exc.message)
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        code, problem = _syntax_problem(exc, text, mark.index if mark else None)
        return None, [Diagnostic(source.path, line, column, code, problem)]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(source.path, 1, 1, "yaml.syntax", str(exc))]
    except RecursionError:
        return None, [Diagnostic(source.path, 1, 1, "yaml.too-deep", "nesting is too deep")]
    return doc, []

"""A parsed schedule file: its plain value, the node tree it came from, and positions.

Pure. `syncd.loader` builds a `Document`; schema, rules and bounds read positions and how
each scalar was written from it, so every error names its line and column.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import yaml

_CORE = "tag:yaml.org,2002:"
_STR = f"{_CORE}str"

# A path into a document: ("schedules", 3, "cron").
PathKey = tuple[str | int, ...]


class Mark(NamedTuple):
    """A 1-based position (a tuple: one is made for every key and value of every file)."""

    line: int
    column: int


@dataclass(frozen=True)
class ScalarInfo:
    """How a scalar was written: its resolved tag, whether it was plain, and the raw text."""

    tag: str
    plain: bool
    raw: str


class LoadError(Exception):
    """A file that cannot be loaded, at a position, with a code and a message."""

    def __init__(self, mark: Mark, code: str, message: str) -> None:
        super().__init__(message)
        self.mark, self.code, self.message = mark, code, message


def node_mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


_constructor = yaml.constructor.SafeConstructor()
# PyYAML's own readings of the YAML 1.1 scalars (0x1F, 1_000, 1:20, .inf, yes/no ...),
# called directly: construct_object would also remember every node it ever built.
_SCALAR_CONSTRUCTORS = {
    f"{_CORE}int": _constructor.construct_yaml_int,
    f"{_CORE}float": _constructor.construct_yaml_float,
    f"{_CORE}bool": _constructor.construct_yaml_bool,
    f"{_CORE}null": _constructor.construct_yaml_null,
}


def scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    if tag == f"{_CORE}timestamp":
        # We parse RFC 3339 ourselves; PyYAML would drop offsets and accept naive times.
        return node.value
    construct = _SCALAR_CONSTRUCTORS.get(tag)
    # Another tag is refused by _construct; positions and messages just show its text.
    if construct is None:
        return node.value
    try:
        return construct(node)
    except (ValueError, KeyError, OverflowError):
        # `!!int abc`, `!!bool maybe`, or an integer past Python's 4300-digit conversion
        # limit: PyYAML raises a bare Python error for each.
        raise LoadError(node_mark(node), "yaml.bad-value", _bad_scalar(node)) from None


def _bad_scalar(node: yaml.ScalarNode) -> str:
    kind = node.tag.rsplit(":", 1)[-1]
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    if kind == "int" and len(node.value) > 40:
        return (
            f"the number {text} has {len(node.value)} characters; numbers in a schedules "
            "file fit in 64 bits (quote it if it is text)"
        )
    word = {"int": "an integer", "float": "a number", "bool": "a boolean"}.get(kind, kind)
    return f"{text!r} tagged !!{kind} is not {word}; remove the tag or fix the value"


class Document:
    """A parsed file: the plain value, and the composed node tree it was built from.

    Positions are read off the node tree when asked for (an error, a schedule's source
    line), not recorded for every key and value while constructing: the happy path of a
    10 000-schedule apply asks for one position per schedule.
    """

    def __init__(
        self, path: str, value: Any, root: yaml.Node | None = None, text: str = ""
    ) -> None:
        self.path = path
        self.value = value
        self.root = root
        self.text = text

    def tagged(self, node: yaml.Node) -> bool:
        """Whether the node was written with an explicit tag (`!!str 1e3`): its text starts
        with `!` (the composed node no longer says whether its tag was resolved)."""
        return self.text[node.start_mark.index : node.start_mark.index + 1] == "!"

    def _walk(self, at: PathKey) -> tuple[int, yaml.Node | None, yaml.Node | None]:
        """Follow `at` down the tree: (how many steps matched, key node, value node)."""
        node, key_node = self.root, None
        for depth, step in enumerate(at):
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and key_text(k) == step:
                        key_node, child = k, v
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(step, int)
                and 0 <= step < len(node.value)
            ):
                key_node, child = None, node.value[step]
            if child is None:
                return depth, None, node
            node = child
        return len(at), key_node, node

    def node(self, at: PathKey) -> yaml.Node | None:
        """The node written at `at`, if the path exists in the tree.

        Asked for every schedule's args and kwargs, so the walk starts at the schedule's
        own node (found once for all of them) rather than at the root.
        """
        if len(at) == 3 and at[0] == "schedules" and isinstance(at[1], int):
            items = self._schedule_nodes
            if 0 <= at[1] < len(items) and isinstance(items[at[1]], yaml.MappingNode):
                field = at[2]
                for k, v in items[at[1]].value:
                    if k.__class__ is yaml.ScalarNode and (
                        k.value == field if k.tag == _STR else key_text(k) == field
                    ):
                        return cast("yaml.Node", v)
                return None
        matched, _, node = self._walk(at)
        return node if matched == len(at) else None

    @functools.cached_property
    def _schedule_nodes(self) -> list[yaml.Node]:
        _, _, node = self._walk(("schedules",))
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    def mark(self, at: PathKey, *, key: bool = False) -> Mark:
        """The best position for a path: its key (or value), else the nearest ancestor."""
        matched, key_node, value_node = self._walk(at)
        if matched < len(at):
            # The path goes further than the document: point at the deepest part that
            # exists, preferring its key as the line a reader looks for.
            _, key_node, value_node = self._walk(at[:matched])
            chosen = key_node or value_node
        else:
            chosen = (key_node or value_node) if key else (value_node or key_node)
        return node_mark(chosen) if chosen is not None else Mark(1, 1)

    def implicit_scalars(self) -> list[tuple[PathKey, ScalarInfo]]:
        """The plain scalars directly inside `defaults` and each schedule that YAML 1.1
        resolved to something other than a string (`no`, `1.0`, an empty value): the
        candidates for the trap check. Quoted or string scalars are never traps."""
        out: list[tuple[PathKey, ScalarInfo]] = []
        root = self.root
        if not isinstance(root, yaml.MappingNode):
            return out
        for k, v in root.value:
            name = key_text(k) if isinstance(k, yaml.ScalarNode) else None
            if name == "defaults":
                out.extend(_scalars_of(v, ("defaults",)))
            elif name == "schedules" and isinstance(v, yaml.SequenceNode):
                for index, item in enumerate(v.value):
                    out.extend(_scalars_of(item, ("schedules", index)))
        return out

    @functools.cached_property
    def _tables(
        self,
    ) -> tuple[dict[PathKey, Mark], dict[PathKey, Mark], dict[PathKey, ScalarInfo]]:
        keys: dict[PathKey, Mark] = {}
        values: dict[PathKey, Mark] = {}
        scalars: dict[PathKey, ScalarInfo] = {}
        stack: list[tuple[yaml.Node, PathKey]] = [(self.root, ())] if self.root else []
        while stack:
            node, at = stack.pop()
            values.setdefault(at, node_mark(node))
            if isinstance(node, yaml.ScalarNode):
                scalars[at] = ScalarInfo(node.tag, not node.style, node.value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend((child, (*at, i)) for i, child in enumerate(node.value))
            elif isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    keys.setdefault((*at, key_text(k)), node_mark(k))
                    stack.append((v, (*at, key_text(k))))
        return keys, values, scalars

    @property
    def key_marks(self) -> dict[PathKey, Mark]:
        """Every key's position (computed on first use: a walk of the whole tree)."""
        return self._tables[0]

    @property
    def value_marks(self) -> dict[PathKey, Mark]:
        """Every value's position (computed on first use)."""
        return self._tables[1]

    @property
    def scalars(self) -> dict[PathKey, ScalarInfo]:
        """How every scalar was written (computed on first use)."""
        return self._tables[2]


def key_text(node: yaml.Node) -> str:
    if node.tag == _STR:
        return str(node.value)
    return str(scalar(node)) if isinstance(node, yaml.ScalarNode) else "?"


def _scalars_of(node: yaml.Node, at: PathKey) -> list[tuple[PathKey, ScalarInfo]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [
        ((*at, key_text(k)), ScalarInfo(v.tag, True, v.value))
        for k, v in node.value
        if v.__class__ is yaml.ScalarNode
        and v.tag != _STR
        and not v.style
        and k.__class__ is yaml.ScalarNode
    ]

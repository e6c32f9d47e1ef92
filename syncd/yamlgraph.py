"""Bounds on a composed YAML graph, checked before anything is constructed: nodes and bytes
with aliases counted as copies (an alias bomb fails in bounded memory), depth, cycles, and
the size of each args and kwargs. Pure: it walks libyaml's node tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from syncd.document import PathKey

MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 64


class GraphLimit(Exception):
    """A bound the graph exceeds, at the node that exceeds it (the loader positions it)."""

    def __init__(self, node: yaml.Node, code: str, message: str) -> None:
        super().__init__(message)
        self.node, self.code, self.message = node, code, message


def check_graph(root: yaml.Node, *, document_bytes: int, args_bytes: int) -> None:
    """Count nodes and bytes after alias expansion, depth and cycles, expanding nothing.

    Bytes are those of the value written as JSON (what the database stores and the beat
    publishes), near enough: a scalar's UTF-8 text plus two, one more per item.
    """
    graph = _GraphSize(document_bytes)
    graph.size(root, 0)
    for at, node in _argument_nodes(root):
        nbytes = graph.sizes[id(node)][1]
        if nbytes > args_bytes:
            raise GraphLimit(node, "args.too-large", args_too_large(at, nbytes, args_bytes))


class _GraphSize:
    """Nodes and bytes of each node with aliases counted as copies, each node sized once."""

    def __init__(self, document_bytes: int) -> None:
        self.document_bytes = document_bytes
        self.sizes: dict[int, tuple[int, int]] = {}
        self.on_path: set[int] = set()

    def over(self, total: int, nbytes: int) -> bool:
        return total > MAX_NODES or nbytes > self.document_bytes

    def size(self, node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if depth > MAX_DEPTH:
            raise GraphLimit(node, "yaml.too-deep", f"nesting deeper than {MAX_DEPTH} levels")
        if key in self.on_path:
            raise GraphLimit(node, "yaml.recursive", "an alias refers to its own anchor")
        self.on_path.add(key)
        total, nbytes = self.children(node, depth)
        self.on_path.discard(key)
        self.check(node, total, nbytes)
        self.sizes[key] = total, nbytes
        return total, nbytes

    def children(self, node: yaml.Node, depth: int) -> tuple[int, int]:
        total, nbytes = 1, 2
        if isinstance(node, yaml.ScalarNode):
            return total, len(node.value.encode("utf-8", "surrogatepass")) + 2
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                n, b = self.size(child, depth + 1)
                total, nbytes = total + n, nbytes + b + 1
                if self.over(total, nbytes):
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                kn, kb = self.size(k, depth + 1)
                vn, vb = self.size(v, depth + 1)
                total, nbytes = total + kn + vn, nbytes + kb + vb + 2
                if self.over(total, nbytes):
                    break
        return total, nbytes

    def check(self, node: yaml.Node, total: int, nbytes: int) -> None:
        if total > MAX_NODES:
            raise GraphLimit(
                node,
                "yaml.too-many-nodes",
                f"the document expands to more than {MAX_NODES} nodes "
                "(aliases are counted as copies); this looks like an alias bomb",
            )
        if nbytes > self.document_bytes:
            raise GraphLimit(
                node,
                "yaml.too-large",
                f"the document expands to more than {self.document_bytes} bytes "
                "(aliases are counted as copies; SYNCD_MAX_DOCUMENT_BYTES)",
            )


def args_too_large(at: PathKey, nbytes: int, args_bytes: int) -> str:
    return (
        f"{at[-1]} is {nbytes} bytes as JSON, aliases expanded; the limit is "
        f"{args_bytes} bytes (SYNCD_MAX_ARGS_BYTES): the beat sends it with every run"
    )


def _argument_nodes(root: yaml.Node) -> list[tuple[PathKey, yaml.Node]]:
    """The args, kwargs and headers nodes of `defaults` and of every schedule."""
    out: list[tuple[PathKey, yaml.Node]] = []

    def fields(node: yaml.Node, at: PathKey) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value in ("args", "kwargs", "headers"):
                    out.append(((*at, k.value), v))

    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if not isinstance(k, yaml.ScalarNode):
                continue
            if k.value == "defaults":
                fields(v, ("defaults",))
            elif k.value == "schedules" and isinstance(v, yaml.SequenceNode):
                for index, item in enumerate(v.value):
                    fields(item, ("schedules", index))
    return out

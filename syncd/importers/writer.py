"""An import as YAML text, and the report of what was not carried over.

Each schedule's notes are written as comments above it, so a reviewer of the pull request
that adds the file sees them where they matter; the same notes go to stderr (or json).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from syncd.export import NO_MODELINE
from syncd.importers.entries import Imported


def _dump(value: Any) -> str:
    return yaml.safe_dump(
        value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def shown(text: str) -> str:
    """Source text made safe to print: control characters (a newline that would forge a
    report line, a terminal escape) written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _code(text: str) -> str:
    return "`" + shown(text).replace("`", "'") + "`"


def file_name(imported: Imported) -> str:
    return f"{imported.source}.yaml"


def document(imported: Imported, header: str = NO_MODELINE) -> str:
    lines = [header.rstrip("\n"), f"# Imported from {imported.source} by `syncd import`.", ""]
    lines.append("version: 1")
    if imported.defaults:
        lines.append(_dump({"defaults": imported.defaults}).rstrip("\n"))
    if not imported.schedules:
        lines.append("schedules: []")
        return "\n".join(lines) + "\n"
    lines.append("schedules:")
    for item in imported.schedules:
        for note in imported.comments.get(item["name"], []):
            lines.append("  # NOTE: " + shown(" ".join(note.split())))
        body = _dump([item]).rstrip("\n")
        lines.extend("  " + row for row in body.splitlines())
    return "\n".join(lines) + "\n"


def report_lines(imported: Imported) -> list[str]:
    """`warning[import.KIND]: ENTRY: MESSAGE` per note, then a one-line summary."""
    out = [
        f"warning[import.{n.kind}]: {shown(n.origin)}: {shown(n.message)}" for n in imported.notes
    ]
    n, skipped = len(imported.schedules), len(imported.skipped)
    out.append(
        f"imported {n} schedule{'s' * (n != 1)} from {imported.source}"
        + (f"; skipped {skipped} (listed above)" if skipped else "")
    )
    return out


def report_json(imported: Imported, written: list[str]) -> dict[str, Any]:
    return {
        "source": imported.source,
        "imported": [s["name"] for s in imported.schedules],
        "notes": [n.as_json() for n in imported.notes],
        "written": written,
    }


FORMATS = ("text", "json", "markdown")  # github annotates file lines; an import has none


def render(imported: Imported, fmt: str, written: list[str]) -> tuple[str, list[str]]:
    """(stdout, stderr lines). Without `written` files the document goes to stdout: as it
    is (text), inside the report object (json), or fenced under the notes (markdown)."""
    document_ = None if written else document(imported)
    if fmt == "json":
        report = report_json(imported, written)
        if document_ is not None:
            report["document"] = document_
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n", []
    if fmt == "markdown":
        n = len(imported.schedules)
        out = [f"### syncd import from {imported.source}: {n} schedule{'s' * (n != 1)}", ""]
        out += [f"- **{x.kind}** {_code(x.origin)}: {shown(x.message)}" for x in imported.notes]
        out += [f"- wrote `{path}`" for path in written]
        if document_ is not None:
            out += ["", "```yaml", document_.rstrip("\n"), "```"]
        return "\n".join(out) + "\n", []
    lines = report_lines(imported) + [f"wrote {path}" for path in written]
    return document_ or "", lines

"""Messages: counts agree with their nouns, and every doc a message points at exists."""

from __future__ import annotations

import re
from pathlib import Path

from syncd.errors import plural

REPO = Path(__file__).resolve().parents[2]
DOC_REFERENCE = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading slugs, and explicit <a id="..."> anchors."""
    out = set(re.findall(r'<a id="([\w-]+)"></a>', markdown))
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_every_doc_a_message_names_exists_with_its_anchor() -> None:
    seen = 0
    for source in sorted((REPO / "syncd").glob("*.py")):
        if source.name.startswith("_schema_fast"):
            continue
        for page, anchor in DOC_REFERENCE.findall(source.read_text()):
            doc = REPO / "docs" / page
            assert doc.is_file(), f"{source.name}: docs/{page}"
            if anchor and anchor != "{field}":
                assert anchor in _anchors(doc.read_text()), f"{source.name}: {page}#{anchor}"
            seen += 1
    assert seen >= 3


def test_field_hints_link_to_an_anchor_for_every_schedule_field() -> None:
    """schema.py's fallback hint is docs/schedules.md#FIELD, for any field."""
    from syncd.schema import schedule_fields

    anchors = _anchors((REPO / "docs" / "schedules.md").read_text())
    assert set(schedule_fields()) <= anchors


def test_no_message_counts_with_a_parenthesised_plural() -> None:
    offenders = []
    for source in sorted((REPO / "syncd").glob("*.py")):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if re.search(r"\w\(s\)", line):
                offenders.append(f"{source.name}:{number}: {line.strip()}")
    assert offenders == []


def test_plural() -> None:
    assert plural(1, "schedule") == "1 schedule"
    assert plural(0, "schedule") == "0 schedules"
    assert plural(2, "more error") == "2 more errors"
    assert plural(3, "entry", "entries") == "3 entries"

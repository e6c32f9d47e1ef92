"""docs/schedules.md is generated from the schema and must not drift from it."""

from __future__ import annotations

from pathlib import Path

from jsonschema import Draft202012Validator

from syncd.schema import schema
from syncd.schemadoc import render

REPO = Path(__file__).resolve().parents[2]


def test_reference_doc_matches_the_schema() -> None:
    committed = (REPO / "docs" / "schedules.md").read_text()
    assert committed == render(), "run: python -m syncd.schemadoc > docs/schedules.md"


def test_every_field_has_a_description_and_an_example() -> None:
    doc = schema()
    Draft202012Validator.check_schema(doc)
    fields = {**doc["properties"], **doc["$defs"]["schedule"]["properties"]}
    for name, spec in fields.items():
        assert spec.get("description"), name
        assert spec.get("examples"), name

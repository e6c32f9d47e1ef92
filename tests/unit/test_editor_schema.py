"""The schema as editors and SchemaStore read it, checked by an independent validator.

jsonschema's Draft202012Validator (not our generated fastjsonschema checker, and without
the ECMA `pattern` extension syncd.schema adds) judges every file of the project's
examples and of the good and bad corpus, read twice: as YAML 1.1 (PyYAML, what syncd
reads) and as YAML 1.2 core (what an editor's YAML reads). syncd must call a file
schema-invalid exactly when one of the two readings is, or when they disagree (the
YAML 1.1 traps: `queue: no`, `enabled: yes`, `name: 010`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from syncd.schema import schema
from syncd.spec import FIELD_DEFAULTS, fields
from syncd.validate import load
from tests.corpus import INVALID_DIR

REPO = Path(__file__).resolve().parents[2]
GOOD_EXTRA = {
    # Booleans and enums at their defaults and away from them, written as YAML 1.2 allows.
    "booleans.yaml": """version: 1
defaults:
  enabled: false
  one_off: false
schedules:
  - name: a
    task: t.a
    every: 1m
    enabled: true
  - name: b
    task: t.b
    cron: "@daily"
    one_off: true
    catchup: skip
    overlap: skip
""",
    "empty.yaml": "version: 1\nschedules: []\n",
    "numbers.yaml": """version: 1
schedules:
  - name: c
    task: t.c
    every: 1h30m
    expire_seconds: 300
    args: [1, 2.5, "010", "yes", null]
    kwargs: {to: "ops@example.com", "on": true}
""",
}


class Yaml11Loader(yaml.SafeLoader):
    """PyYAML as syncd reads: YAML 1.1, except that an unquoted timestamp stays the text
    it was (syncd reads times from the source text; JSON has no datetime)."""


Yaml11Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith(":timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML with the YAML 1.2 core schema's implicit types: true/false only, decimal,
    0o and 0x integers, no sexagesimal numbers, no `yes`/`on`/`no`/`off`."""


Yaml12Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


def _int12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _float12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    return float(text.replace(".inf", "inf").replace(".nan", "nan"))


def _bool12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _int12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _float12)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _bool12)


def _readme_examples() -> dict[str, str]:
    """The schedules files shown in README.md (fenced yaml blocks with `schedules:`)."""
    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    return {f"readme-{i}.yaml": b for i, b in enumerate(blocks) if "\nschedules:" in b}


def test_the_readme_shows_a_schedules_file() -> None:
    assert _readme_examples()


def _files(tmp: Path) -> list[Path]:
    for name, text in {**GOOD_EXTRA, **_readme_examples()}.items():
        (tmp / name).write_text(text)
    return [
        *sorted((REPO / "schedules").glob("*.yaml")),
        *sorted(tmp.glob("*.yaml")),
        *sorted(INVALID_DIR.glob("*.yaml")),
    ]


def _is_load_level(code: str) -> bool:
    """A file syncd could not read as one document of plain data: no schema judges it."""
    return code.startswith("file.") or (code.startswith("yaml.") and code != "yaml.implicit-type")


def _is_schema_level(code: str) -> bool:
    return code.startswith("schema.") or code == "yaml.implicit-type"


def _read(path: Path, loader: type[yaml.SafeLoader]) -> Any:
    return yaml.load(path.read_bytes(), Loader=loader)


def test_jsonschema_agrees_with_syncd_validate_on_every_corpus_file(tmp_path: Path) -> None:
    validator = Draft202012Validator(schema())
    compared = agreed_invalid = agreed_valid = 0
    disagreements = []
    for path in _files(tmp_path):
        _, diagnostics = load([str(path)])
        codes = {d.code for d in diagnostics}
        if any(_is_load_level(c) for c in codes):
            continue
        as_11, as_12 = _read(path, Yaml11Loader), _read(path, Yaml12Loader)
        independent = (
            not validator.is_valid(as_11)
            or not validator.is_valid(as_12)
            or json.dumps(as_11, default=str) != json.dumps(as_12, default=str)
        )
        ours = any(_is_schema_level(c) for c in codes)
        compared += 1
        if independent != ours:
            disagreements.append((path.name, sorted(codes), independent))
        elif ours:
            agreed_invalid += 1
        else:
            agreed_valid += 1
    assert disagreements == [], "\n".join(map(str, disagreements))
    # The corpus really exercises both sides (schedules/, the extras, ~40 invalid files).
    assert compared >= 70 and agreed_invalid >= 35 and agreed_valid >= 30, (
        compared,
        agreed_invalid,
        agreed_valid,
    )


def _properties() -> dict[str, dict[str, Any]]:
    doc = schema()
    return {**doc["properties"], **doc["$defs"]["schedule"]["properties"]}


def test_every_field_has_type_markdown_description_and_examples_that_validate() -> None:
    doc = schema()
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == "urn:syncd:schedules:1"
    for name, spec in _properties().items():
        if "$ref" in spec:
            continue
        assert "type" in spec, name
        assert spec["markdownDescription"], name
        # Editors that show plain text get the same words without markdown's code marks.
        assert spec["description"] == spec["markdownDescription"].replace("`", ""), name
        field_schema = {"$defs": doc["$defs"], **spec}
        for example in spec["examples"]:
            assert Draft202012Validator(field_schema).is_valid(example), (name, example)
        if "default" in spec:
            assert Draft202012Validator(field_schema).is_valid(spec["default"]), name


def test_schema_defaults_are_the_defaults_the_loader_applies(tmp_path: Path) -> None:
    """A schedule that sets nothing optional gets each schema `default`, and the fields the
    schema gives no default are left unset (None) by the loader."""
    (tmp_path / "a.yaml").write_text(
        "version: 1\nschedules:\n  - {name: a, task: t.a, every: 1m}\n"
    )
    (schedule,), diagnostics = load([str(tmp_path / "a.yaml")])
    assert diagnostics == []
    loaded = fields(schedule)
    item = schema()["$defs"]["schedule"]["properties"]
    for name, spec in item.items():
        if name in ("name", "task", "every"):
            continue
        assert loaded.get(name) == spec.get("default"), name
        assert FIELD_DEFAULTS.get(name) == spec.get("default"), name
        if "default" in spec:  # and the prose says the same
            written = json.dumps(spec["default"]).strip('"')
            assert f"Default: {written}." in spec["description"], name


@pytest.mark.parametrize("field", ["enabled", "one_off", "catchup", "overlap"])
def test_a_files_defaults_mapping_wins_over_the_schema_default(tmp_path: Path, field: str) -> None:
    """fastjsonschema would write the schema's `default` into the document (over the file's
    own `defaults:`) unless compiled with use_default=False."""
    other = {"enabled": "false", "one_off": "true", "catchup": "skip", "overlap": "skip"}[field]
    (tmp_path / "a.yaml").write_text(
        f"version: 1\ndefaults:\n  {field}: {other}\nschedules:\n  - {{name: a, task: t.a, every: 1m}}\n"
    )
    (schedule,), diagnostics = load([str(tmp_path / "a.yaml")])
    assert diagnostics == []
    assert str(fields(schedule)[field]).lower() == other

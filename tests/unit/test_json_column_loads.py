"""The engines' JSON deserializer (celeryapp.models.json_column_loads) decodes exactly what
json.loads does, and raises where it raises: its fast path (the scanner at offset 0 when
the value fills the text) must never change an answer."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from celeryapp.models import json_column_loads

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_blank = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


def _outcome(fn: Any, text: str) -> tuple[str, Any]:
    try:
        return ("ok", fn(text))
    except json.JSONDecodeError as exc:
        return ("error", (exc.msg, exc.pos))


@given(_values, _blank, _blank, st.booleans())
def test_decodes_as_json_loads_with_any_whitespace_as_bytes_or_text(
    value: Any, before: str, after: str, as_bytes: bool
) -> None:
    text = before + json.dumps(value) + after
    data: str | bytes = text.encode() if as_bytes else text
    assert json_column_loads(data) == json.loads(text)


@given(st.text(max_size=12))
def test_any_text_decodes_or_fails_as_json_loads(text: str) -> None:
    assert _outcome(json_column_loads, text) == _outcome(json.loads, text)


def test_trailing_data_and_empty_text_fail_alike() -> None:
    for text in ["[1] x", "", " ", "[1]]", "{} {}"]:
        assert _outcome(json_column_loads, text) == _outcome(json.loads, text)
    assert json_column_loads(memoryview(b'{"n": 1}')) == {"n": 1}

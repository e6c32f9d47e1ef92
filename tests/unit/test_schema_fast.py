"""The fast path (fastjsonschema) and jsonschema agree on what the schema accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.schema import _validator, is_valid_fast
from tests.corpus import INVALID_CASES

scalars = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=12)
keys = st.sampled_from(
    [
        "name",
        "task",
        "cron",
        "every",
        "args",
        "kwargs",
        "queue",
        "timezone",
        "start_time",
        "expires",
        "expire_seconds",
        "one_off",
        "enabled",
        "catchup",
        "catchup_window",
        "overlap",
        "description",
        "bogus",
    ]
)
values = (
    st.sampled_from(
        [
            "job-1",
            "t.x",
            "0 2 * * *",
            "30s",
            "1h30m",
            "latest",
            "skip",
            "allow",
            "Europe/Berlin",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00",
            "BAD NAME",
            "",
        ]
    )
    | scalars
    | st.lists(scalars, max_size=2)
)
schedule = st.dictionaries(keys, values, max_size=8)
documents = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, 1, 2, "1"]), "schedules": st.lists(schedule, max_size=3)},
    optional={"defaults": st.dictionaries(keys, values, max_size=3), "extra": scalars},
)


@settings(max_examples=1500, deadline=None)
@given(documents)
def test_fast_and_full_validators_agree(doc: dict[str, Any]) -> None:
    full = not any(True for _ in _validator().iter_errors(doc))
    assert is_valid_fast(doc) == full


def test_agree_on_the_invalid_corpus() -> None:
    import yaml

    for path, *_ in INVALID_CASES:
        try:
            doc = yaml.safe_load(path.read_bytes())
        except Exception:
            continue
        full = not any(True for _ in _validator().iter_errors(doc))
        assert is_valid_fast(doc) == full, path

"""The loader: positions, caps, and never constructing anything but plain values."""

from __future__ import annotations

import hashlib
import resource
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd import loader
from syncd import sources as sources_module
from syncd.loader import parse
from syncd.sources import SourceFile, discover, read_sources


def src(text: str | bytes, path: str = "f.yaml") -> SourceFile:
    data = text.encode() if isinstance(text, str) else text
    return SourceFile(path, data, hashlib.sha256(data).hexdigest())


def test_values_keep_key_and_value_positions() -> None:
    doc, diags = parse(src("version: 1\nschedules:\n  - name: a\n    cron: '0 2 * * *'\n"))
    assert not diags and doc is not None
    assert doc.value == {"version": 1, "schedules": [{"name": "a", "cron": "0 2 * * *"}]}
    assert doc.key_marks[("schedules", 0, "cron")] == loader.Mark(4, 5)
    assert doc.value_marks[("schedules", 0, "cron")] == loader.Mark(4, 11)
    assert doc.value_marks[("schedules", 0)] == loader.Mark(3, 5)


def test_scalars_remember_if_they_were_quoted() -> None:
    doc, _ = parse(src("a: no\nb: 'no'\n"))
    assert doc is not None
    assert doc.value == {"a": False, "b": "no"}
    assert doc.scalars[("a",)].plain and doc.scalars[("a",)].tag.endswith("bool")
    assert not doc.scalars[("b",)].plain


def test_timestamps_stay_text() -> None:
    doc, _ = parse(src("t: 2026-03-01T09:00:00+01:00\n"))
    assert doc is not None
    assert doc.value == {"t": "2026-03-01T09:00:00+01:00"}


def test_alias_bomb_fails_fast_in_bounded_memory() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    doc, diags = parse(src("\n".join(levels) + "\n"))
    elapsed = time.perf_counter() - started
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"alias bomb rejected in {elapsed * 1000:.1f} ms, max RSS grew {grown_kib} KiB")
    assert doc is None
    assert diags[0].code == "yaml.too-many-nodes"
    # 10**9 expanded nodes would need many GiB; the composed graph is ~100 nodes.
    assert grown_kib < 100_000


def test_shared_alias_within_budget_is_fine() -> None:
    doc, diags = parse(src("a: &x {k: 1}\nb: *x\n"))
    assert not diags and doc is not None
    assert doc.value == {"a": {"k": 1}, "b": {"k": 1}}


def test_recursive_alias_is_an_error() -> None:
    doc, diags = parse(src("a: &x [*x]\n"))
    assert doc is None
    assert diags[0].code in ("yaml.recursive", "yaml.syntax")


def test_bom_is_accepted() -> None:
    doc, diags = parse(src(b"\xef\xbb\xbfversion: 1\n"))
    assert not diags and doc is not None and doc.value == {"version": 1}


def test_discover_expands_directories_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("x: 1\n")
    (tmp_path / "a.yml").write_text("x: 1\n")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.yaml").write_text("x: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text("x: 1\n")
    found, diags = discover([str(tmp_path)])
    assert not diags
    assert [Path(p).name for p in found] == ["a.yml", "b.yaml", "d.yaml"]


def test_missing_path_is_a_diagnostic(tmp_path: Path) -> None:
    found, diags = discover([str(tmp_path / "nope")])
    assert found == []
    assert diags[0].code == "path.not-found"


def test_symlink_outside_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("version: 1\nschedules: []\n")
    root = tmp_path / "schedules"
    root.mkdir()
    (root / "evil.yaml").symlink_to(outside)
    found, diags = discover([str(root)])
    assert found == []
    assert diags[0].code == "path.outside"


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources_module, "MAX_FILE_BYTES", 100)
    big = tmp_path / "big.yaml"
    big.write_text("x: " + "y" * 200 + "\n")
    sources, diags = read_sources([str(big)])
    assert sources == []
    assert diags[0].code == "file.too-large"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    doc, diags = parse(src(data))
    assert (doc is None) == bool(diags)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n\t ,?%@`0123456789")), max_size=200)
)
def test_yaml_like_junk_never_raises(text: str) -> None:
    doc, diags = parse(src(text))
    assert (doc is None) == bool(diags)


def _tags(loader_class: type, text: str) -> list[str]:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    return [] if root is None else [k.tag + "|" + v.tag for k, v in root.value]


TRICKY = [
    "yes",
    "No",
    "~",
    "",
    "0o12",
    "012",
    "1_000",
    ".inf",
    "-.5",
    "2026-01-01",
    "=",
    "<<",
    "0x1F",
    "1:20",
    "+1",
    "null",
    "NULL",
    "off",
    "y",
    "1e3",
    "3.",
    "job-1",
    "'@hourly'",
]


def test_memoized_resolver_agrees_with_pyyaml() -> None:
    import yaml

    text = "".join(f"k{i}: {v}\n" for i, v in enumerate(TRICKY))
    for _ in range(2):  # the second pass is served from the memo
        assert _tags(loader._Loader, text) == _tags(yaml.CSafeLoader, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.-+_:eExXoObBtTfFnNyY~=<", max_size=8), max_size=6))
def test_memoized_resolver_agrees_on_generated_scalars(values: list[str]) -> None:
    import json

    import yaml

    text = "".join(f"k{i}: {json.dumps(v)[1:-1] or '~'}\n" for i, v in enumerate(values))
    try:
        expected = _tags(yaml.CSafeLoader, text)
    except yaml.YAMLError:
        return
    assert _tags(loader._Loader, text) == expected


def test_tagged_keys_are_refused_with_a_position() -> None:
    # Found by the fuzz test: a key with a local tag reached the scalar constructors.
    for text, column in (("!0 :\n", 1), ("a: 1\n? !foo bar\n: 1\n", 3)):
        doc, diags = parse(src(text))
        assert doc is None
        assert diags[0].code == "yaml.tag"
        assert diags[0].column == column

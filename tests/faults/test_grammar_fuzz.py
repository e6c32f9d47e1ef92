"""Grammar-based fuzzing: structurally valid schedules files with hostile values.

Beside the random-bytes fuzzer (test_bad_input.py), hypothesis writes files that have the
right shape (version, defaults, schedules with name/task/cron|every) and puts into every
field values at and past each bound: the columns' integer and length limits, the instants
Python and the databases hold, every time zone edge, YAML 1.1 spellings, tags, anchors and
aliases, control and bidi characters, NUL escapes, non-finite and 64-bit-overflowing
numbers. Asserted:

* the validator returns "valid" or positioned errors, never an exception (which the CLI
  would turn into exit 3);
* every file that validates applies on PostgreSQL, MariaDB and SQLite (in batches), re-plans with
  no change, and its `next` works from the YAML and from the row; the beat turns each row
  into an entry and decides its due times without an error.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from celeryapp import limits
from celeryapp.dueplan import entry_from_row, first_due, following, message_expiry
from syncd.guards import Guards
from syncd.nextrun import fire_times_for
from syncd.sources import SourceFile
from syncd.spec import schedule_from_row
from syncd.store import connect, table
from syncd.sync import Options, apply, plan
from syncd.validate import load, validate_file

pytestmark = pytest.mark.slow
SYNCD = str(Path(sys.executable).with_name("syncd"))

DOCUMENTS = int(os.environ.get("SYNCD_FUZZ_DOCUMENTS", "20000"))  # fewer for a quick local run
APPLIED = 300  # valid documents applied to each database, in batches
REJECTED = 200  # rejected documents also run through the installed CLI
BATCH = 25
NOW = datetime(2026, 3, 8, 6, 59, 30, tzinfo=UTC)  # minutes before a US DST change

I32, I64 = limits.INT_MAX, 2**63 - 1


def _q(text: str) -> str:
    """A double-quoted YAML scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def pick(ok: list[str], bad: list[str], *, odds: int = 7) -> st.SearchStrategy[str]:
    """Values that should pass (at the bounds) `odds` times as often as ones that must not,
    so that enough whole files validate to be applied."""
    good = st.sampled_from(ok)
    return st.one_of(*[good] * odds, st.sampled_from(bad))


# Generated names rarely collide, so valid files can share a batch (names are global).
# Names from a counter: hypothesis draws few distinct integers, uuids or randoms, and valid
# files that share a name cannot be applied together. Each name has a fixed length, so a
# failing example replays the same way whatever number it gets.
_IDS = itertools.count()
_UNIQUE = st.builds(lambda: f"{next(_IDS):032x}")
NAMES = st.one_of(
    *[_UNIQUE.map(lambda u: f"job-{u[-12:]}")] * 5,
    _UNIQUE.map(lambda u: f"{u:x>64}"),  # 64 characters, the column's length
    _UNIQUE.map(lambda u: f"0.y:z-1_{u[-8:]}"),
    st.sampled_from(
        ["n" * 65, _q("nightly\n"), _q("n" * 64 + "\n"), "Nightly", "jоb", "010", "no", "1:30",
         _q("a\u202eb"), _q("a\u200bb"), "-a", _q(""), "'a b'"]
    ),
)  # fmt: skip
TASKS = pick(
    ["reports.send", "celeryapp.tasks.echo", "_x", "t" * 256, "a.b.c.d"],
    ["t" * 257, _q("x.echo\n"), "a..b", "1x", "ä.x", _q("t.\u202ex"), "'a b'", "!!str x.y",
     "!!int 5"],
)  # fmt: skip
CRONS = pick(
    [_q("0 2 * * *"), _q("*/15 9-17 * * mon-fri"), _q("30 2 * * *"), _q("30 1 * * *"),
     _q("0 0 29 2 *"), _q("* * * * 7"), "'@daily'", "'@yearly'", "0 2 * * *", _q("59 23 31 12 *"),
     _q("0 0 1,15 * 1")],
    ["*/5 * * * *", "* * * * *", _q("0 25 * * *"), _q("60 * * * *"), _q("0 0 31 2 *"),
     _q("@reboot"), _q("0 0 * * 1#2"), _q("0 2 * * *\n"), _q(" 0 2 * * * "), _q("0 0 L * *"),
     _q("*/0 * * * *"), _q("0 0 0 1 1 * 2030"), "*5 * * * *", _q("0 0 * * 8")],
)  # fmt: skip
DURATIONS = pick(
    ["1s", "30s", "1h30m", "1d", f"{I32}s", "24855d3h14m7s", "24855d", "59m59s"],
    [f"{I32 + 1}s", "24855d3h14m8s", "30000d", "99999999999999999999d", "0s", _q("1m\n"), "60",
     "1h1d", "1.5h", "-1s", "1S", "!!str 1m", "1m\t"],
)  # fmt: skip
ZONES = pick(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati",
     "Pacific/Pago_Pago", "Etc/GMT-14", "Etc/GMT+12", "Asia/Kathmandu", "America/St_Johns",
     "Antarctica/Troll", "Pacific/Chatham", "Europe/Dublin", "Africa/Casablanca", "US/Eastern",
     "America/Santiago", "Asia/Tehran"],
    ["utc", "localtime", "Factory", "posixrules", _q("UTC\n"), "../../etc/passwd", "EST5EDT,M3",
     "Europe/Berln", _q(""), "right/UTC", "posix/UTC", _q("UTC\u0000")],
)  # fmt: skip
TIMES = pick(
    ["1970-01-01T00:00:00Z", "8999-12-31T23:59:59+14:00", "8999-12-31T23:59:59.999999Z",
     "2026-03-08T02:30:00-05:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
     "2024-02-29T12:00:00+05:45", "2026-03-29T02:30:00+01:00", "2026-01-01T00:00:00z",
     "2026-10-04T02:00:00+10:30", "2100-01-01T00:00:00-12:00"],
    ["1969-12-31T23:59:59Z", "9000-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00",
     "0001-01-01T00:00:00+14:00", "2026-06-30T23:59:60Z", "2026-02-30T00:00:00Z",
     "2026-03-01T09:00:00", "2026-03-01T09:00:00+24:00", "2026-03-01", _q("2026-03-01T09:00Z\n"),
     "10000-01-01T00:00:00Z"],
)  # fmt: skip
SECONDS = pick(
    ["1", str(I32), "300", "86400"],
    [str(I32 + 1), "0", "-1", "010", "0x1F", "1.5", ".nan", ".inf", "'5'", "1_000", "1e3",
     "9" * 5000, "!!int abc", "!!float 1"],
)  # fmt: skip
BOOLS = pick(
    ["true", "false", "True", "FALSE"],
    ["yes", "no", "on", "Off", "y", "1", "!!bool maybe", "'true'", "~", "!!bool true"],
)
CATCHUP = pick(["latest", "skip"], ["all", "no", "Latest", "''"])
OVERLAP = pick(["allow", "skip"], ["buffer_one", "off", "yes"])
QUEUES = pick(
    ["reports", "q" * 256, "celery", "a.b-c_d", _q("ünïcode")],
    ["q" * 257, _q("a\u202eb"), _q("a\tb"), _q("a\nb"), "no", _q(""), _q("a\u0000"), "0x1F", "~"],
)  # fmt: skip
DESCRIPTIONS = pick(
    ["Daily report", _q("x" * 4000), _q("line one\nline two\ttabbed"), _q("ünï \u202e bidi"),
     _q("🙂" * 1000)],
    [_q("x" * 4001), _q("a\u0000b"), "12:30", "no", "!!binary aGk=", _q("\U0001f642" * 4001),
     '"lone \\ud800 surrogate"', '"\\uFFFE noncharacter"'],
)  # fmt: skip

# Scalars inside args and kwargs: JSON values at the bounds, and what must be refused.
ARG_SCALARS = pick(
    ["0", "-1", str(I64), str(-I64 - 1), str(I32), "1.5", "-0.0", "1.7976931348623157e+308",
     "2.2250738585072014e-308", "true", "false", "null", "~", "plain", "'010'", '"yes"',
     _q("\u202e"), _q("tab\there"), _q("x" * 1000), "!!str 5", "!!int 7", "!!float 1.5",
     "''", "2026-01-01", _q("\U0001f642")],
    [str(I64 + 1), str(-I64 - 2), ".nan", ".inf", "-.inf", "1.0e+999", "NO", "on", "010",
     "0x1F", "1:30", "1_000", "0b101", "!!float abc", "!!bool maybe", "!!binary aGk=",
     _q("a\u0000"), "!!python/name:os.system", "*undefined", "9" * 5000, "1e3", "0o17"],
    odds=15,
)  # fmt: skip
KEYS = pick(
    ["to", "id", "'on'", '"no"', "a-b", "'010'", _q("ünï"), "x" * 100],
    ["on", "no", "010", "~", "0x1F", "1.50", "!!int abc", _q("a\u0000"), "[a]", "<<"],
    odds=15,
)  # fmt: skip


def _json(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return ARG_SCALARS
    inner = _json(depth - 1)
    return st.one_of(
        ARG_SCALARS,
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(KEYS, inner), max_size=4).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
        ),
    )


ARGS = st.lists(_json(1), max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
KWARGS = st.lists(st.tuples(KEYS, _json(1)), max_size=3).map(
    lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
)
OPTIONAL = {
    "args": ARGS,
    "kwargs": KWARGS,
    "queue": QUEUES,
    "exchange": QUEUES,
    "routing_key": QUEUES,
    "timezone": ZONES,
    "start_time": TIMES,
    "expires": TIMES,
    "expire_seconds": SECONDS,
    "one_off": BOOLS,
    "enabled": BOOLS,
    "catchup": CATCHUP,
    "catchup_window": DURATIONS,
    "overlap": OVERLAP,
    "description": DESCRIPTIONS,
}
DEFAULTABLE = ("queue", "timezone", "catchup", "catchup_window", "enabled", "args", "kwargs")


@st.composite
def schedule(draw: st.DrawFn) -> list[str]:
    lines = [f"  - name: {draw(NAMES)}", f"    task: {draw(TASKS)}"]
    timing = draw(st.sampled_from(["cron"] * 7 + ["every"] * 7 + ["both", "none"]))
    if timing in ("cron", "both"):
        lines.append(f"    cron: {draw(CRONS)}")
    if timing in ("every", "both"):
        lines.append(f"    every: {draw(DURATIONS)}")
    for field in draw(st.lists(st.sampled_from(sorted(OPTIONAL)), max_size=4, unique=True)):
        lines.append(f"    {field}: {draw(OPTIONAL[field])}")
    return lines


@st.composite
def document(draw: st.DrawFn) -> str:
    lines = ["version: 1"]
    defaults = draw(st.lists(st.sampled_from(DEFAULTABLE), max_size=2, unique=True))
    if defaults:
        lines.append("defaults:")
        lines += [f"  {field}: {draw(OPTIONAL[field])}" for field in defaults]
    lines.append("schedules:")
    items = draw(st.lists(schedule(), min_size=1, max_size=3))
    if len(items) > 1 and draw(st.booleans()):
        # An anchor on the first schedule's args, aliased by the others.
        anchored = draw(ARGS)
        items[0].append(f"    args: &shared {anchored}")
        for item in items[1:]:
            item.append("    args: *shared")
    for item in items:
        # A field set twice (an optional one drawn again) is a duplicate key: fine, it must
        # be reported; most items have each field once.
        lines += item
    return "\n".join(lines) + "\n"


def _source(text: str, index: int) -> SourceFile:
    data = text.encode("utf-8", "surrogatepass")
    return SourceFile(f"fuzz/{index}.yaml", data, hashlib.sha256(data).hexdigest())


def _batches(valid: list[str]) -> list[list[str]]:
    """Documents grouped so no two in a batch share a schedule name (names are global)."""
    batches: list[tuple[set[str], list[str]]] = []
    for text in valid:
        result = validate_file(_source(text, 0))
        names = {s.name for s in result.schedules}
        for used, docs in batches:
            if len(docs) < BATCH and not used & names:
                used.update(names)
                docs.append(text)
                break
        else:
            batches.append((set(names), [text]))
    return [docs for _, docs in batches]


def _apply_batches(url: str, batches: list[list[str]], folder: Path) -> Counter[str]:
    seen: Counter[str] = Counter()
    for batch in batches:
        for old in folder.glob("*.yaml"):
            old.unlink()
        for i, text in enumerate(batch):
            (folder / f"{i}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        # Each batch replaces the last one whole: deleting every schedule is the point here.
        options = Options(paths=[str(folder)], guards=Guards(allow_empty=True))
        applied, _ = apply(url, options, lock_timeout=10, now=NOW)
        seen["applied"] += len(batch)
        seen["changes"] += len(applied.changes)
        # Stored as written: planning again finds nothing to do (no `NaN -> NaN`).
        again = plan(url, options)
        assert again.empty, [(c.name, c.fields) for c in again.changes]
        schedules, diagnostics = load([str(folder)])
        assert not diagnostics
        for schedule in schedules:
            fire_times_for(schedule, NOW, 3, default_timezone="UTC", anchor=NOW)
        with connect(url) as conn:
            rows = [dict(r) for r in conn.execute(select(table)).mappings()]
        for row in rows:
            fire_times_for(schedule_from_row(row), NOW, 3, default_timezone="UTC", anchor=NOW)
            entry = entry_from_row(row, default_timezone="UTC")
            decision = first_due(entry, NOW)
            if decision.next_due is not None:
                following(entry, decision.next_due)
                message_expiry(entry, decision.next_due)
            seen["rows"] += 1
    return seen


def _check_cli(rejected: list[str], folder: Path) -> None:
    """The installed CLI on a sample of rejected files: exit 1 (never 3) in every output
    format, every file named with a position in the json report."""
    folder.mkdir()
    for i, text in enumerate(rejected):
        (folder / f"{i}.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    for fmt in ("json", "text", "github", "markdown"):
        done = subprocess.run(
            [SYNCD, "validate", "--format", fmt, str(folder)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 1, (fmt, done.returncode, done.stderr[-2000:])
        if fmt == "json":
            report = json.loads(done.stdout)
            named = {Path(e["path"]).name for e in report["errors"] if e["line"] >= 1}
            assert named == {f"{i}.yaml" for i in range(len(rejected))}


def test_grammar_fuzz_validates_and_valid_files_apply(
    pg_url: str, mysql_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    outcomes: Counter[str] = Counter()
    valid: list[str] = []
    rejected: list[str] = []
    counter = iter(range(10**9))
    sampler = random.Random(10)

    @settings(max_examples=DOCUMENTS, deadline=None, suppress_health_check=list(HealthCheck))
    @given(document())
    def check(text: str) -> None:
        result = validate_file(_source(text, next(counter)))
        for diagnostic in result.diagnostics:
            assert diagnostic.line >= 1, diagnostic
            assert diagnostic.column >= 1, diagnostic
            assert diagnostic.code and diagnostic.message, diagnostic
        if result.diagnostics:
            outcomes[result.diagnostics[0].code] += 1
            if len(rejected) < REJECTED:
                rejected.append(text)
            elif (slot := sampler.randrange(sum(outcomes.values()))) < REJECTED:
                rejected[slot] = text
            return
        outcomes["valid"] += 1
        # A uniform sample of all valid files (reservoir): not just hypothesis' first, simplest.
        if len(valid) < APPLIED:
            valid.append(text)
        elif (slot := sampler.randrange(outcomes["valid"])) < APPLIED:
            valid[slot] = text

    check()
    total = sum(outcomes.values())
    assert total >= DOCUMENTS * 0.9, total  # hypothesis may stop early on a tiny space
    assert outcomes["valid"] >= 100, outcomes  # enough valid files to apply
    _check_cli(rejected, tmp_path / "rejected")
    batches = _batches(valid)
    applied = {}
    for url, name in ((pg_url, "postgresql"), (mysql_url, "mariadb"), (sqlite_url, "sqlite")):
        folder = tmp_path / name
        folder.mkdir()
        applied[name] = _apply_batches(url, batches, folder)
    rejected_count = total - outcomes["valid"]
    codes = ", ".join(f"{code} {n}" for code, n in sorted(outcomes.items()) if code != "valid")
    print(
        f"RELIABILITY | grammar fuzzing: structurally valid files with hostile values "
        f"(bounds, zones, tags, anchors, controls) | {total} | no exception; "
        f"{outcomes['valid']} valid, {rejected_count} rejected with a positioned error "
        f"(first error: {codes}); {len(rejected)} of the rejected also through `syncd validate` "
        "in every format: exit 1"
    )
    for name, seen in applied.items():
        print(
            f"RELIABILITY | grammar-fuzzed valid files applied ({name}) | {seen['applied']} | "
            f"{len(batches)} batches applied, re-planned with no change, `next` from YAML and "
            f"row and the beat's due times computed for {seen['rows']} rows, no error"
        )

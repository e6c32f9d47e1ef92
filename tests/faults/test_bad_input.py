"""Bad input: malformed files beyond the corpus, fuzzing, and the security rules.

Each malformed file is rejected with a positioned error, in bounded time, without an
exception, and leaves the database unchanged; YAML never constructs objects; secrets never
reach output.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.sources import SourceFile
from syncd.validate import validate_file
from tests.corpus import INVALID_CASES

SYNCD = str(Path(sys.executable).with_name("syncd"))
H = "version: 1\nschedules:\n"
OK = "    task: t.x\n    every: 1m\n"

# name -> bytes; each is a schedules file that must be rejected.
MALFORMED: dict[str, bytes] = {
    "cyrillic-a-in-key": (H + "  - nаme: a\n" + OK).encode(),
    "cyrillic-o-in-name": (H + "  - name: jоb\n" + OK).encode(),
    "fullwidth-colon": (H + "  - name： a\n" + OK).encode(),
    "zero-width-space-name": (H + '  - name: "a\u200bb"\n' + OK).encode(),
    "rtl-override-in-task": (H + '  - name: a\n    task: "t.\u202ex"\n    every: 1m\n').encode(),
    "nbsp-indent": (H + "\u00a0 - name: a\n" + OK).encode(),
    "greek-question-mark-task": (H + "  - name: a\n    task: t;x\n    every: 1m\n").encode(),
    "bell-in-value": (H + "  - name: a\n" + OK + '    description: "a\x07"\n').encode(),
    "escape-in-plain": (H + "  - name: a\x1b[31m\n" + OK).encode(),
    "del-char": (H + "  - name: a\x7f\n" + OK).encode(),
    "c1-control": (H + "  - name: a\u0085b\u0090\n" + OK).encode(),
    "nul-in-middle": (H + "  - name: a\n\x00" + OK).encode(),
    "deep-mapping": (
        H + "  - name: a\n" + OK + "    kwargs: " + "{a: " * 100 + "1" + "}" * 100 + "\n"
    ).encode(),
    "deep-block-seq": (
        H
        + "  - name: a\n"
        + OK
        + "    args:\n"
        + "".join("  " * (i + 3) + "-\n" for i in range(70))
        + "  " * 73
        + "- 1\n"
    ).encode(),
    "huge-description": (
        H + "  - name: a\n" + OK + "    description: " + "x" * 5000 + "\n"
    ).encode(),
    "huge-name": (H + "  - name: " + "a" * 100_000 + "\n" + OK).encode(),
    "huge-int": (H + "  - name: a\n" + OK + "    expire_seconds: " + "9" * 400 + "\n").encode(),
    "negative-expire": (H + "  - name: a\n" + OK + "    expire_seconds: -5\n").encode(),
    "float-expire": (H + "  - name: a\n" + OK + "    expire_seconds: 1.5\n").encode(),
    "nan-expire": (H + "  - name: a\n" + OK + "    expire_seconds: .nan\n").encode(),
    "inf-expire": (H + "  - name: a\n" + OK + "    expire_seconds: .inf\n").encode(),
    "alias-bomb-mapping": (
        "a: &a {x: 1, y: 1, z: 1, w: 1, v: 1, u: 1, t: 1, s: 1, r: 1, q: 1}\n"
        + "".join(
            f"l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 0 else f'l{i - 1}'}"] * 10) + "]\n"
            for i in range(8)
        )
    ).encode(),
    "alias-cycle": b"a: &a\n  - *a\n",
    "binary-png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "binary-random": bytes((i * 7919) % 256 for i in range(4096)),
    "utf16-bom": "version: 1\nschedules: []\n".encode("utf-16"),
    "latin1": (H + "  - name: a\n" + OK + "    description: caf").encode() + b"\xe9\n",
    "name-slash": (H + "  - name: a/b\n" + OK).encode(),
    "name-dotdot": (H + "  - name: ..\n" + OK).encode(),
    "name-absolute": (H + "  - name: /etc/passwd\n" + OK).encode(),
    "name-backslash": (H + "  - name: 'a\\\\b'\n" + OK).encode(),
    "name-space": (H + "  - name: a b\n" + OK).encode(),
    "name-empty": (H + "  - name: ''\n" + OK).encode(),
    "name-leading-dash": (H + "  - name: -a\n" + OK).encode(),
    "task-shell": (H + "  - name: a\n    task: $(reboot)\n    every: 1m\n").encode(),
    "task-dunder-import": (H + "  - name: a\n    task: __import__('os')\n    every: 1m\n").encode(),
    "python-name-tag": (
        H + "  - name: a\n    task: !!python/name:os.system\n    every: 1m\n"
    ).encode(),
    "python-apply-tag": (
        H + "  - name: a\n" + OK + "    args: !!python/object/apply:os.system [ls]\n"
    ).encode(),
    "binary-tag": (H + "  - name: a\n" + OK + "    description: !!binary aGVsbG8=\n").encode(),
    "set-tag": (H + "  - name: a\n" + OK + "    kwargs: !!set {a, b}\n").encode(),
    "omap-tag": (H + "  - name: a\n" + OK + "    kwargs: !!omap [a: 1]\n").encode(),
    "complex-key": (H + "  - ? [a, b]\n    : 1\n").encode(),
    "integer-key": (H + "  - 1: a\n" + OK).encode(),
    "cron-injection": (
        H + "  - name: a\n    task: t.x\n    cron: '* * * * *; rm -rf /'\n"
    ).encode(),
    "cron-hash": (H + "  - name: a\n    task: t.x\n    cron: '0 0 * * 1#2'\n").encode(),
    "cron-question": (H + "  - name: a\n    task: t.x\n    cron: '0 0 ? * *'\n").encode(),
    "cron-W": (H + "  - name: a\n    task: t.x\n    cron: '0 0 15W * *'\n").encode(),
    "cron-seven-fields": (
        H + "  - name: a\n    task: t.x\n    cron: '0 0 0 1 1 * 2030'\n"
    ).encode(),
    "cron-step-zero": (H + "  - name: a\n    task: t.x\n    cron: '*/0 * * * *'\n").encode(),
    "timezone-path": (H + "  - name: a\n" + OK + "    timezone: ../../etc/localtime\n").encode(),
    "timezone-posix": (
        H + "  - name: a\n" + OK + "    timezone: EST5EDT,M3.2.0,M11.1.0\n"
    ).encode(),
    "start-time-year-0": (
        H + "  - name: a\n" + OK + "    start_time: '0000-01-01T00:00:00Z'\n"
    ).encode(),
    "start-time-feb-30": (
        H + "  - name: a\n" + OK + "    start_time: '2026-02-30T00:00:00Z'\n"
    ).encode(),
    "schedules-mapping": b"version: 1\nschedules: {a: 1}\n",
    "version-string": b"version: '1'\nschedules: []\n",
    "version-bool": b"version: yes\nschedules: []\n",
    "document-end-then-junk": b"version: 1\nschedules: []\n...\n--- !!python/object:x {}\n",
}


def source(name: str, data: bytes) -> SourceFile:
    return SourceFile(f"schedules/{name}.yaml", data, hashlib.sha256(data).hexdigest())


def test_at_least_100_malformed_files() -> None:
    assert len(MALFORMED) + len(INVALID_CASES) >= 100


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_is_rejected_with_a_position(name: str) -> None:
    started = time.perf_counter()
    result = validate_file(source(name, MALFORMED[name]))
    elapsed = time.perf_counter() - started
    assert result.schedules == []
    assert result.diagnostics, name
    first = result.diagnostics[0]
    assert first.line >= 1
    assert first.column >= 1
    assert first.path == f"schedules/{name}.yaml"
    assert elapsed < 10, f"{name}: {elapsed:.2f}s"  # bounded, with a wide margin for noise
    print(
        f"RELIABILITY | bad input: {name} | 1 | rejected: {first.code} at "
        f"{first.line}:{first.column}"
    )


def test_malformed_files_leave_the_database_unchanged(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "good.yaml").write_text(H + "  - name: good\n" + OK)
    done = subprocess.run(
        [SYNCD, "--database-url", sqlite_url, "apply", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    before = db.read_bytes()
    for name, data in MALFORMED.items():
        (folder / "bad.yaml").write_bytes(data)
        done = subprocess.run(
            [SYNCD, "--database-url", sqlite_url, "apply", str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, (name, done.stderr)
        assert db.read_bytes() == before, name


def test_symlink_escape_is_refused_and_file_outside_untouched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(H + "  - name: stolen\n" + OK)
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "link.yaml").symlink_to(secret)
    (folder / "dir").symlink_to(tmp_path, target_is_directory=True)
    done = subprocess.run(
        [SYNCD, "validate", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "path.outside" in done.stderr
    assert "stolen" not in done.stdout


def test_yaml_never_constructs_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = (
        H + "  - name: a\n" + OK + f"    args: !!python/object/apply:os.system ['touch {marker}']\n"
    ).encode()
    result = validate_file(source("payload", payload))
    assert result.diagnostics[0].code == "yaml.tag"
    assert not marker.exists()


def test_passwords_never_reach_output(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "a.yaml").write_text(H + "  - name: a\n" + OK)
    env = {**os.environ, "SYNCD_REDIS_URL": "redis://:r3dis-s3cret@127.0.0.1:1/0"}
    for args in (
        ["--database-url", "postgresql://u:pg-s3cret@127.0.0.1:1/x", "apply"],
        ["--database-url", "postgresql://u:pg-s3cret@127.0.0.1:1/x", "plan"],
        ["--database-url", "postgresql://u:pg-s3cret@127.0.0.1:1/x", "status"],
        ["--database-url", f"sqlite:///{tmp_path / 'x.db'}", "apply"],
    ):
        done = subprocess.run(
            [SYNCD, *args, *([str(folder)] if args[-1] != "status" else [])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        out = done.stdout + done.stderr
        assert "pg-s3cret" not in out, out
        assert "r3dis-s3cret" not in out, out


@pytest.mark.slow
def test_fuzz_loader_and_validator_never_raise() -> None:
    """20 000 generated documents: only positioned diagnostics, never an exception."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.one_of(
            st.binary(max_size=300),
            st.text(
                alphabet=st.sampled_from(list("abnmetv:-[]{}&*!|>'\"#\n ,?%@`0123456789.\t")),
                max_size=300,
            ),
            st.text(max_size=200),
        )
    )
    def check(data: bytes | str) -> None:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        result = validate_file(source("fuzz", H.encode() + raw))
        for diagnostic in result.diagnostics:
            assert diagnostic.line >= 1
            assert diagnostic.column >= 1
        outcomes[result.diagnostics[0].code if result.diagnostics else "valid"] += 1

    check()
    common = ", ".join(f"{code} {n}" for code, n in outcomes.most_common(4))
    print(
        f"RELIABILITY | hypothesis fuzzing of the loader and validator (binary, YAML-ish "
        f"and any text) | {sum(outcomes.values())} | no exception; every diagnostic "
        f"positioned; most common first errors: {common}"
    )

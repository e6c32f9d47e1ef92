"""`-v` adds a traceback and keeps the exit code; saved plans that are not plans are usage
errors (64) that name the problem."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.acceptance.test_cli import GOOD, run


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "a.yaml").write_text(GOOD)
    return tmp_path


def test_verbose_adds_a_traceback_and_keeps_the_exit_code(tree: Path) -> None:
    url = "postgresql://bob:s3cret@127.0.0.1:1/x"
    done = run(tree, "-v", "--database-url", url, "apply")
    assert done.returncode == 3, done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert "cannot reach the database" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    plain = run(tree, "--database-url", url, "apply")
    assert plain.returncode == 3 and "Traceback" not in plain.stderr
    bad = run(tree, "-v", "next", "no-such-schedule")
    assert bad.returncode == 1 and "Traceback" in bad.stderr


def _saved(tree: Path) -> dict:  # type: ignore[type-arg]
    out = tree / "plan.json"
    assert run(tree, "plan", "--out", str(out)).returncode == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ({"options": "prune"}, "options"),
        ({"paths": {"a": 1}}, "paths"),
        ({"paths": [1]}, "paths"),
        ({"revision": "1"}, "revision"),
        ({"revision": True}, "revision"),
        ({"changes": "none"}, "changes"),
        ({"changes": [1]}, "changes"),
        ({"options": {"prune": "no"}}, "options"),
    ],
)
def test_malformed_saved_plan_is_a_usage_error(tree: Path, edit: dict, says: str) -> None:  # type: ignore[type-arg]
    data = {**_saved(tree), **edit}
    (tree / "bad.json").write_text(json.dumps(data))
    done = run(tree, "apply", "bad.json")
    assert done.returncode == 64, (done.stdout, done.stderr)
    assert "bad.json" in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr and "made against revision" not in done.stderr


def test_saved_plan_not_json_deep_or_huge(tree: Path) -> None:
    cases = {
        "text.json": "not json at all",
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "nan.json": '{"revision": NaN, "changes": [], "paths": []}',
    }
    for name, body in cases.items():
        (tree / name).write_text(body)
    with (tree / "huge.json").open("w") as fh:
        fh.write('{"revision": null, "paths": ["schedules"], "changes": [], "pad": "')
        fh.write("x" * (65 * 1024 * 1024))
        fh.write('"}')
    os.mkfifo(tree / "pipe.json")
    for name in [*cases, "huge.json", "pipe.json", "missing.json"]:
        done = run(tree, "apply", name)
        assert done.returncode == 64, (name, done.stdout, done.stderr[-2000:])
        assert name in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_help_lists_exit_5(tmp_path: Path) -> None:
    done = run(tmp_path, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "5 refused by a guard" in text and "64 usage error" in text
    apply_help = " ".join(run(tmp_path, "apply", "--help").stdout.split())
    assert "--allow-empty" in apply_help and "--max-delete" in apply_help


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "-1"])
def test_lock_timeout_out_of_range_is_a_usage_error(tree: Path, value: str) -> None:
    for command in ("apply", "watch"):
        done = run(tree, command, "--lock-timeout", value)
        assert done.returncode == 64, (command, done.stdout, done.stderr)
        assert "--lock-timeout" in done.stderr and "Traceback" not in done.stderr


def test_plan_out_unwritable_is_a_usage_error(tree: Path) -> None:
    (tree / "adir").mkdir()
    for target in ("adir", "no/such/dir/plan.json"):
        done = run(tree, "plan", "--out", target)
        assert done.returncode == 64, (target, done.stderr)
        assert "--out" in done.stderr and "Traceback" not in done.stderr

"""`syncd serve` usage errors: each exits 64 with a message naming the input, before any
database or remote is touched; and how `syncd status` renders a controller."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import main
from syncd.status import render


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([], {}, "--repo URL or SYNCD_REPO"),
        (["--repo", "file:///r", "--interval", "soon"], {}, "--interval 'soon'"),
        (["--repo", "file:///r", "--interval", "0s"], {}, "--interval '0s'"),
        (["--repo", "file:///r", "--path", "../etc"], {}, "--path '../etc'"),
        (["--repo", "file:///r", "--path", "/etc"], {}, "--path '/etc'"),
        (["--repo", "file:///r", "--branch", "-x"], {}, "--branch '-x'"),
        (["--repo", "file:///r", "--listen", "8650"], {}, "--listen '8650'"),
        (["--repo", "file:///r", "--deny-window", "0 17 * * fri", "2x"], {}, "not a duration"),
        (["--repo", "file:///r"], {"SYNCD_WEBHOOK_SECRET_FILE": "/nonexistent"}, "cannot read"),
        (["--repo", "file:///r"], {"SYNCD_GIT_SSH_KEY_FILE": "/nonexistent"}, "no such file"),
    ],
)
def test_usage_errors(args: list[str], env: dict[str, str], says: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--database-url",
            f"sqlite:///{tmp_path}/db",
            "serve",
            "--state-dir",
            str(tmp_path / "s"),
            *args,
        ],
        env={"SYNCD_REPO": "", **env},
    )
    assert result.exit_code == 64, result.output
    assert says in result.output
    assert not (tmp_path / "db").exists()  # nothing was touched


def test_status_renders_a_failed_controller() -> None:
    status = {
        "database": "sqlite:///x",
        "revision": 3,
        "last_apply": None,
        "schedules": {"managed": 2, "unmanaged": 0, "enabled": 2},
        "drift": [],
        "beat": {"leader": None},
        "workers": [],
        "health": {"healthy": False, "problems": ["no beat leads"], "unreachable": False},
        "controllers": [
            {
                "source": {"repo": "https://***@git.example/r.git", "branch": "main", "path": "s"},
                "state": "failed",
                "reason": "commit bbbbbbbbbbbb was invalid",
                "live": {"commit": "a" * 40, "revision": 3, "subject": "Add", "author": "Ada"},
                "settings": {"deny_windows": ["0 17 * * fri for 2d15h (UTC)"]},
                "remote": {"head": "b" * 40, "fetched_time": "2026-12-02T10:00:00Z", "error": None},
                "last_attempt": {
                    "commit": "b" * 40,
                    "time": "2026-12-02T10:00:01Z",
                    "result": "invalid",
                    "errors": ['s/a.yaml:5:12: error[schema.pattern]: every: "1x" is invalid'],
                },
            }
        ],
    }
    text = render(status, "text")
    assert (
        "serve:     https://***@git.example/r.git main:s: failed (commit bbbbbbbbbbbb was invalid)"
        in text
    )
    assert 'live:    aaaaaaaaaaaa "Add" by Ada, revision 3' in text
    assert "attempt: bbbbbbbbbbbb at 2026-12-02T10:00:01Z: invalid" in text
    assert "deny:    0 17 * * fri for 2d15h (UTC)" in text
    assert 's/a.yaml:5:12: error[schema.pattern]: every: "1x" is invalid' in text


def test_git_credentials_reach_git_only_through_its_environment(tmp_path: Path) -> None:
    from syncd.gitsource import Credentials, GitSource

    key = tmp_path / "id_ed25519"
    key.write_text("not a real key")
    hosts = tmp_path / "known_hosts"
    hosts.write_text("")
    password = tmp_path / "token"
    password.write_text("tok3n")
    creds = Credentials.from_env(
        {
            "SYNCD_GIT_USERNAME": "bot",
            "SYNCD_GIT_PASSWORD_FILE": str(password),
            "SYNCD_GIT_SSH_KEY_FILE": str(key),
            "SYNCD_GIT_KNOWN_HOSTS": str(hosts),
        }
    )
    source = GitSource("https://git.example/r.git", "main", tmp_path / "state", creds)
    env = source._env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == str(tmp_path / "state" / "askpass.sh")
    assert env["SYNCD_GIT_USERNAME"] == "bot"
    assert env["SYNCD_GIT_PASSWORD_FILE"] == str(password)
    assert "tok3n" not in " ".join(env.values())  # the file is read by the helper, at use
    assert env["GIT_SSH_COMMAND"] == (
        f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
        f"-o UserKnownHostsFile={hosts} -o StrictHostKeyChecking=yes"
    )
    askpass = subprocess.run(
        [env["GIT_ASKPASS"], "Password for 'https://bot@git.example': "],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert askpass.stdout == "tok3n"
    user = subprocess.run(
        [env["GIT_ASKPASS"], "Username for 'https://git.example': "],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert user.stdout == "bot"

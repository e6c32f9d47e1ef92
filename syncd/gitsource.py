"""The git side of `syncd serve`: a bare clone in the state directory, fetched on demand,
and the tree of one commit materialised into a temporary directory.

Only the `git` binary is used (http, https, ssh, git:// and file URLs all work as git knows
them). The URL is stored as the clone's `origin` so no command line that `ps` shows carries
it; credentials come from the environment or a file and reach git through GIT_ASKPASS (a
helper script that reads them from the environment of the git process) or, for ssh, through
GIT_SSH_COMMAND with the key file. Nothing here prints a URL without `redact_repo`.

A commit's tree is taken with `git archive`, never by moving a working tree: what is
validated and applied is exactly the files of that commit, whatever a fetch does meanwhile.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from celeryapp.redact import redact_url
from syncd.errors import ServiceUnavailable, SyncdError, UsageError

GIT_TIMEOUT = 120.0
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,200}")

# Reads the credential named by git's prompt from the environment of the git process
# (git passes the prompt as $1). Passwords never appear on a command line.
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s' "$SYNCD_GIT_USERNAME" ;;
  *) if [ -n "$SYNCD_GIT_PASSWORD_FILE" ]; then cat "$SYNCD_GIT_PASSWORD_FILE"; \
else printf '%s' "$SYNCD_GIT_PASSWORD"; fi ;;
esac
"""


class FetchError(ServiceUnavailable):
    """The git remote could not be fetched; the last good commit stays live."""


_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<user>[^/@\s:'\"]+)@")


def redact_repo(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with credentials replaced by ***:
    `https://user:pw@h` and a token given as the user (`https://ghp_x@github.com/...`)
    alike; an ssh user name (`ssh://git@`) stays."""

    def user_only(match: re.Match[str]) -> str:
        if match.group("scheme").lower() in ("ssh", "git+ssh", "ssh+git"):
            return match.group(0)
        return f"{match.group('scheme')}://***@"

    return _USERINFO.sub(user_only, redact_url(text))


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """SYNCD_GIT_USERNAME, SYNCD_GIT_PASSWORD or SYNCD_GIT_PASSWORD_FILE (a token works
        as the password), SYNCD_GIT_SSH_KEY_FILE, SYNCD_GIT_KNOWN_HOSTS."""
        creds = cls(
            username=env.get("SYNCD_GIT_USERNAME") or None,
            password=env.get("SYNCD_GIT_PASSWORD") or None,
            password_file=env.get("SYNCD_GIT_PASSWORD_FILE") or None,
            ssh_key_file=env.get("SYNCD_GIT_SSH_KEY_FILE") or None,
            known_hosts_file=env.get("SYNCD_GIT_KNOWN_HOSTS") or None,
        )
        for name, path in (
            ("SYNCD_GIT_PASSWORD_FILE", creds.password_file),
            ("SYNCD_GIT_SSH_KEY_FILE", creds.ssh_key_file),
            ("SYNCD_GIT_KNOWN_HOSTS", creds.known_hosts_file),
        ):
            if path and not os.path.isfile(path):
                raise UsageError(f"{name}={path}: no such file")
        return creds


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    subject: str


def check_branch(branch: str) -> str:
    if not _BRANCH.fullmatch(branch) or ".." in branch or branch.startswith(("-", "/")):
        raise UsageError(f"--branch {branch!r} is not a branch name")
    return branch


class GitSource:
    """A bare clone of one branch of one remote, kept in `state_dir`."""

    def __init__(self, url: str, branch: str, state_dir: Path, credentials: Credentials) -> None:
        self.url = url
        self.branch = check_branch(branch)
        self.state_dir = state_dir
        self.credentials = credentials
        self.repo = state_dir / "repo.git"
        self._env = self._git_env()

    @property
    def display_url(self) -> str:
        return redact_repo(self.url)

    def _git_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_NOSYSTEM="1",
            # Keep the user's and the system's git config (credential helpers, rewrites)
            # out of the controller's fetches: the behaviour is the same everywhere.
            GIT_CONFIG_GLOBAL=os.devnull,
            LC_ALL="C",
        )
        creds = self.credentials
        if creds.username or creds.password or creds.password_file:
            askpass = self.state_dir / "askpass.sh"
            self.state_dir.mkdir(parents=True, exist_ok=True)
            if not askpass.exists() or askpass.read_text() != _ASKPASS:
                askpass.write_text(_ASKPASS)
                askpass.chmod(0o700)
            env["GIT_ASKPASS"] = str(askpass)
            env["SYNCD_GIT_USERNAME"] = creds.username or "x-access-token"
            if creds.password_file:
                env["SYNCD_GIT_PASSWORD_FILE"] = creds.password_file
            else:
                env["SYNCD_GIT_PASSWORD"] = creds.password or ""
        if creds.ssh_key_file:
            ssh = [
                "ssh",
                "-i",
                creds.ssh_key_file,
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
            ]
            if creds.known_hosts_file:
                ssh += ["-o", f"UserKnownHostsFile={creds.known_hosts_file}"]
                ssh += ["-o", "StrictHostKeyChecking=yes"]
            env["GIT_SSH_COMMAND"] = " ".join(ssh)
        return env

    def _git(self, *args: str, timeout: float = GIT_TIMEOUT) -> bytes:
        try:
            done = subprocess.run(
                ["git", "--git-dir", str(self.repo), *args],
                env=self._env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise SyncdError("cannot run git: the git binary is not installed") from None
        except subprocess.TimeoutExpired:
            raise FetchError(
                f"git {args[0]} from {self.display_url} did not finish in {timeout:g}s"
            ) from None
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            message = "; ".join(line for line in reason if line) or f"exit {done.returncode}"
            raise FetchError(
                f"git {args[0]} from {self.display_url} failed: {redact_repo(message)}"
            )
        return done.stdout

    def _init(self) -> None:
        if (self.repo / "HEAD").exists():
            current = self._git("config", "--get", "remote.origin.url").decode().strip()
            if current != self.url:
                self._git("config", "remote.origin.url", self.url)
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.repo.with_name("repo.git.partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            ["git", "init", "--quiet", "--bare", str(partial)],
            env=self._env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["git", "--git-dir", str(partial), "remote", "add", "origin", self.url],
            env=self._env,
            check=True,
            capture_output=True,
        )
        partial.rename(self.repo)

    def fetch(self) -> str:
        """Fetch the branch (a force-push or rewritten history replaces it); its head SHA."""
        self._init()
        ref = f"refs/remotes/origin/{self.branch}"
        self._git(
            "fetch", "--quiet", "--no-tags", "--prune", "origin", f"+refs/heads/{self.branch}:{ref}"
        )
        sha = self._git("rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
        if not _SHA.fullmatch(sha):
            raise FetchError(f"git rev-parse gave {sha!r} for {self.branch}")
        return sha

    def commit(self, sha: str) -> Commit:
        out = self._git("show", "-s", "--format=%an <%ae>%x00%s", sha).decode(errors="replace")
        author, _, subject = out.rstrip("\n").partition("\0")
        return Commit(sha, author[:512], subject[:1024])

    def has_commit(self, sha: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{sha}^{{commit}}")
        except FetchError:
            return False
        return True

    def ensure(self, sha: str) -> None:
        """Have commit `sha` in the clone (the live commit may be gone from the branch after
        a force-push, and the clone is new after a restart with an empty state dir)."""
        if self.has_commit(sha):
            return
        try:
            self._git("fetch", "--quiet", "--no-tags", "origin", sha)
        except FetchError as exc:
            raise FetchError(
                f"commit {sha[:12]} is not in the clone and the remote does not give it "
                f"({exc.message}); push the state you want live to {self.branch}"
            ) from None

    @contextmanager
    def tree(self, sha: str, path: str) -> Iterator[Path]:
        """The files of commit `sha` below `path`, in a directory removed afterwards.
        A `path` the commit does not have is an empty directory (an empty desired state,
        which the prune guard refuses)."""
        work = Path(tempfile.mkdtemp(prefix="tree-", dir=self.state_dir))
        try:
            listed = self._git("ls-tree", "--name-only", sha, "--", path.rstrip("/") or ".")
            if listed.strip():
                data = self._git("archive", "--format=tar", sha, "--", path)
                with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                    archive.extractall(work, filter="data")
            (work / path).mkdir(parents=True, exist_ok=True)
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

"""Webhook requests (pure): is the signature good, and does the push concern our branch.

* GitHub: `X-Hub-Signature-256: sha256=HEX`, HMAC-SHA256 of the raw body with the secret;
  `X-GitHub-Event: ping` is answered and syncs nothing; `push` names `ref`.
* GitLab: `X-Gitlab-Token` is the secret itself; `Push Hook` names `ref`.
* Generic: `X-Syncd-Signature: sha256=HEX` as GitHub's; the body may be empty or JSON with
  `ref` (`refs/heads/main`) or `branch`; without either it asks for a sync.

Every comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

KINDS = ("github", "gitlab", "generic")
MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class Verdict:
    status: int  # HTTP status to answer
    sync: bool  # whether to request a sync
    message: str


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _signed(headers: Mapping[str, str], header: str, secret: bytes, body: bytes) -> bool:
    given = _header(headers, header).strip()
    return hmac.compare_digest(given.encode(), signature(secret, body).encode())


def _ref(body: bytes) -> tuple[str | None, bool]:
    """(branch named by the body, whether the body could be read)."""
    if not body.strip():
        return None, True
    if body.startswith(b"payload="):  # GitHub's application/x-www-form-urlencoded choice
        body = (parse_qs(body.decode("utf-8", "replace")).get("payload") or [""])[0].encode()
    try:
        payload = json.loads(body)
    except ValueError:
        return None, False
    if not isinstance(payload, dict):
        return None, False
    ref = payload.get("ref")
    if isinstance(ref, str):
        if not ref.startswith("refs/heads/"):
            return "", True  # a tag or another kind of ref: never our branch
        return ref.removeprefix("refs/heads/"), True
    branch = payload.get("branch")
    return (branch if isinstance(branch, str) else None), True


def judge(
    kind: str, headers: Mapping[str, str], body: bytes, secret: bytes, branch: str
) -> Verdict:
    """The answer to one webhook request."""
    refused = _AUTHENTICATE.get(kind, _generic)(headers, body, secret)
    if refused is not None:
        return refused
    pushed, readable = _ref(body)
    if not readable:
        return Verdict(400, False, "the body is not a JSON object")
    if pushed is None:
        if kind == "generic":
            return Verdict(202, True, "sync requested")
        return Verdict(400, False, "the push names no ref")
    if pushed != branch:
        return Verdict(
            200, False, f"ignored: a push to {pushed or 'a non-branch ref'}, not {branch}"
        )
    return Verdict(202, True, f"sync requested for {branch}")


def _gitlab(headers: Mapping[str, str], _body: bytes, secret: bytes) -> Verdict | None:
    """A refusal (bad token, not a push), or None: go on to the ref."""
    token = _header(headers, "X-Gitlab-Token").encode()
    if not hmac.compare_digest(token, secret):
        return Verdict(401, False, "bad or missing X-Gitlab-Token")
    event = _header(headers, "X-Gitlab-Event")
    if event and event not in ("Push Hook", "System Hook"):
        return Verdict(200, False, f"ignored: {event} is not a push")
    return None


def _github(headers: Mapping[str, str], body: bytes, secret: bytes) -> Verdict | None:
    if not _signed(headers, "X-Hub-Signature-256", secret, body):
        return Verdict(401, False, "bad or missing X-Hub-Signature-256")
    event = _header(headers, "X-GitHub-Event")
    if event == "ping":
        return Verdict(200, False, "pong")
    if event and event != "push":
        return Verdict(200, False, f"ignored: {event} is not a push")
    return None


def _generic(headers: Mapping[str, str], body: bytes, secret: bytes) -> Verdict | None:
    if not _signed(headers, "X-Syncd-Signature", secret, body):
        return Verdict(401, False, "bad or missing X-Syncd-Signature")
    return None


_AUTHENTICATE = {"gitlab": _gitlab, "github": _github}

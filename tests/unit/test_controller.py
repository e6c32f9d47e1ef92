"""The controller's decisions (syncd.controller), deny windows and webhook verdicts: pure."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd import controller as c
from syncd.gitsource import redact_repo
from syncd.hooks import judge, signature
from syncd.windows import DenyWindow, WindowError, denied_until

A, B = "a" * 40, "b" * 40


def test_new_head_is_applied() -> None:
    assert c.decide(c.Known(head=B, live=A), self_heal=False) == c.Decision(
        "apply", B, "the remote head is not live"
    )


def test_first_sync_applies_the_head() -> None:
    assert c.decide(c.Known(head=A, live=None), self_heal=False).action == "apply"


def test_invalid_commit_is_not_tried_again_but_a_new_one_is() -> None:
    known = c.Known(head=B, live=A, attempt_commit=B, attempt_result=c.INVALID)
    assert c.decide(known, self_heal=False).action == "none"
    assert c.sync_state(known) == (c.FAILED, f"commit {B[:12]} was invalid")
    newer = c.Known(head="c" * 40, live=A, attempt_commit=B, attempt_result=c.INVALID)
    assert c.decide(newer, self_heal=False) == c.Decision(
        "apply", "c" * 40, "the remote head is not live"
    )


@pytest.mark.parametrize("result", [c.REFUSED, c.DENIED, c.ERROR, c.APPLYING])
def test_refusals_windows_errors_and_interrupted_applies_are_retried(result: str) -> None:
    known = c.Known(head=B, live=A, attempt_commit=B, attempt_result=result)
    assert c.decide(known, self_heal=False).action == "apply"


def test_states() -> None:
    assert c.sync_state(c.Known(head=A, live=A))[0] == c.SYNCED
    assert c.sync_state(c.Known(head=B, live=A))[0] == c.OUT_OF_SYNC
    assert c.sync_state(c.Known(head=A, live=A, drift=("x",))) == (
        c.OUT_OF_SYNC,
        "drift: x edited in the database",
    )
    denied = c.Known(head=B, live=A, attempt_commit=B, attempt_result=c.DENIED)
    assert c.sync_state(denied) == (
        c.OUT_OF_SYNC,
        f"commit {B[:12]} waits for the deny window to close",
    )
    refused = c.Known(head=B, live=A, attempt_commit=B, attempt_result=c.REFUSED)
    assert c.sync_state(refused)[0] == c.FAILED
    down = c.Known(head=A, live=A, fetch_error="connection refused")
    assert c.sync_state(down) == (c.FAILED, "cannot fetch the remote: connection refused")
    assert c.sync_state(c.Known(head=None, live=None))[0] == c.OUT_OF_SYNC


def test_drift_is_reverted_only_with_self_heal() -> None:
    known = c.Known(head=A, live=A, drift=("x", "y"))
    assert c.decide(known, self_heal=False).action == "none"
    assert c.decide(known, self_heal=True) == c.Decision("heal", A, "drift: x, y")


def test_drift_is_healed_from_the_live_commit_while_the_head_is_invalid() -> None:
    known = c.Known(head=B, live=A, attempt_commit=B, attempt_result=c.INVALID, drift=("x",))
    assert c.decide(known, self_heal=True) == c.Decision("heal", A, "drift: x")
    assert c.decide(known, self_heal=False).action == "none"


def test_nothing_to_do_before_a_fetch() -> None:
    assert c.decide(c.Known(head=None, live=A), self_heal=True).action == "none"


SHAS = st.sampled_from([None, A, B, "c" * 40])
RESULTS = st.sampled_from([None, c.APPLYING, c.APPLIED, c.INVALID, c.REFUSED, c.DENIED, c.ERROR])


@given(SHAS, SHAS, SHAS, RESULTS, st.booleans(), st.lists(st.sampled_from("xyz"), max_size=2))
def test_decisions_are_consistent_with_the_state(
    head: str | None,
    live: str | None,
    attempt: str | None,
    result: str | None,
    heal: bool,
    drift: list[str],
) -> None:
    known = c.Known(head, live, attempt, result, drift=tuple(drift))
    decision = c.decide(known, self_heal=heal)
    state, _ = c.sync_state(known)
    if state == c.SYNCED:
        assert decision.action == "none"  # a synced source is never touched
    if decision.action == "apply":
        assert decision.commit == head != live  # only ever the head, never an old commit
    if decision.action == "heal":
        assert heal and drift and decision.commit == live is not None  # only the live one
    if head is not None and head != live and not (attempt == head and result == c.INVALID):
        assert decision.action == "apply"


def test_a_burst_of_requests_is_one_wakeup() -> None:
    wakeup = c.Wakeup()
    for _ in range(50):
        wakeup.request()
    assert wakeup.wait(0) is True
    assert wakeup.wait(0) is False


def test_requests_from_threads_coalesce() -> None:
    wakeup = c.Wakeup()
    threads = [threading.Thread(target=wakeup.request) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [wakeup.wait(0), wakeup.wait(0)] == [True, False]


def test_requests_passed_on_by_a_busy_replica() -> None:
    t = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    later = datetime(2026, 12, 2, 10, 0, 1, tzinfo=UTC)
    assert c.request_served(None, None)
    assert c.request_served(t, later)  # a fetch started after the hook: it saw the push
    assert not c.request_served(later, t)  # the holder fetched before the hook came
    assert not c.request_served(t, None)
    assert c.run_again(later, t)  # came during the pass: once more
    assert not c.run_again(t, later)  # older than the pass: served by it
    assert not c.run_again(None, t)


def test_transitions() -> None:
    assert c.transition((A, c.INVALID), (B, c.INVALID))
    assert c.transition((A, c.REFUSED), (A, c.DENIED))
    assert not c.transition((A, c.REFUSED), (A, c.REFUSED))


# --- deny windows --------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_deny_window_friday_evening_to_monday() -> None:
    window = DenyWindow.parse("0 17 * * fri", "63h")
    friday = at("2026-12-04T17:00:00+00:00")  # a Friday
    assert window.open_until(at("2026-12-04T16:59:59+00:00")) is None
    assert window.open_until(friday) == at("2026-12-07T08:00:00+00:00")
    assert window.open_until(at("2026-12-06T12:00:00+00:00")) == at("2026-12-07T08:00:00+00:00")
    assert window.open_until(at("2026-12-07T08:00:00+00:00")) is None


def test_deny_window_in_a_time_zone_across_dst() -> None:
    # 01:30 New York on the fall-back day happens twice; the window starts at the first.
    window = DenyWindow.parse("30 1 * * *", "30m", "America/New_York")
    first = at("2026-11-01T01:45:00-04:00")
    assert window.open_until(first) == at("2026-11-01T02:00:00-04:00")
    assert window.open_until(at("2026-11-01T12:00:00-05:00")) is None


def test_overlapping_windows_report_the_real_end() -> None:
    window = DenyWindow.parse("0 * * * *", "90m")  # every hour for 90 minutes: always open
    now = at("2026-12-02T10:10:00+00:00")
    assert window.open_until(now) is not None
    assert window.open_until(now) >= at("2026-12-02T11:30:00+00:00")


def test_denied_until_picks_the_window_closing_last() -> None:
    short = DenyWindow.parse("0 10 * * *", "1h")
    long = DenyWindow.parse("0 9 * * *", "4h")
    found = denied_until((short, long), at("2026-12-02T10:30:00+00:00"))
    assert found == (long, at("2026-12-02T13:00:00+00:00"))
    assert denied_until((short,), at("2026-12-02T12:30:00+00:00")) is None


@pytest.mark.parametrize(
    ("cron", "duration", "says"),
    [
        ("0 17 * * fri", "2x", "is not a duration"),
        ("0 17 * * fri", "0s", "is not a duration"),
        ("61 * * * *", "1h", "--deny-window '61 * * * *'"),
        ("0 17 * *", "1h", "five fields"),
    ],
)
def test_bad_deny_windows_are_explained(cron: str, duration: str, says: str) -> None:
    with pytest.raises(WindowError, match=re.escape(says)):
        DenyWindow.parse(cron, duration)


def test_a_window_refuses_only_a_plan_that_changes_something() -> None:
    from syncd.guards import Guards, check
    from syncd.plan import make_plan

    guards = Guards(deny_windows=(DenyWindow.parse("* * * * *", "1h"),))
    empty = make_plan([], [])
    assert check(empty, guards, datetime(2026, 12, 2, tzinfo=UTC)) == ()


# --- webhooks ------------------------------------------------------------------------------

SECRET = b"s3cret-hook"


def github(body: bytes, sig: str | None = None, event: str = "push") -> dict[str, str]:
    return {
        "X-Hub-Signature-256": sig if sig is not None else signature(SECRET, body),
        "X-GitHub-Event": event,
    }


def push(ref: str = "refs/heads/main") -> bytes:
    return json.dumps({"ref": ref, "after": B}).encode()


def test_github_push_to_our_branch_syncs() -> None:
    body = push()
    verdict = judge("github", github(body), body, SECRET, "main")
    assert (verdict.status, verdict.sync) == (202, True)
    assert signature(SECRET, body) == (
        "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    "sig", ["", "sha256=", "sha256=" + "0" * 64, "sha1=abc", signature(b"other", push())]
)
def test_github_bad_signature_is_401(sig: str) -> None:
    body = push()
    verdict = judge("github", github(body, sig), body, SECRET, "main")
    assert (verdict.status, verdict.sync) == (401, False)


def test_github_body_changed_after_signing_is_401() -> None:
    body = push()
    headers = github(body)
    assert judge("github", headers, push("refs/heads/other"), SECRET, "main").status == 401


def test_github_other_branch_tag_and_ping_are_ignored() -> None:
    other = push("refs/heads/feature")
    assert judge("github", github(other), other, SECRET, "main").sync is False
    tag = push("refs/tags/v1")
    assert judge("github", github(tag), tag, SECRET, "main").sync is False
    ping = b'{"zen": "hi"}'
    assert judge("github", github(ping, event="ping"), ping, SECRET, "main").message == "pong"
    issue = push()
    assert judge("github", github(issue, event="issues"), issue, SECRET, "main").sync is False


def test_gitlab_token() -> None:
    body = push()
    ok = {"X-Gitlab-Token": SECRET.decode(), "X-Gitlab-Event": "Push Hook"}
    assert judge("gitlab", ok, body, SECRET, "main").sync is True
    bad = {"X-Gitlab-Token": "nope", "X-Gitlab-Event": "Push Hook"}
    assert judge("gitlab", bad, body, SECRET, "main").status == 401
    assert judge("gitlab", {}, body, SECRET, "main").status == 401


def test_generic_hook_with_and_without_a_body() -> None:
    for body in (b"", b'{"branch": "main"}', push()):
        headers = {"X-Syncd-Signature": signature(SECRET, body)}
        assert judge("generic", headers, body, SECRET, "main").sync is True
    other = b'{"branch": "dev"}'
    headers = {"X-Syncd-Signature": signature(SECRET, other)}
    assert judge("generic", headers, other, SECRET, "main").sync is False
    assert judge("generic", {}, b"", SECRET, "main").status == 401
    junk = b"not json"
    headers = {"X-Syncd-Signature": signature(SECRET, junk)}
    assert judge("generic", headers, junk, SECRET, "main").status == 400


def test_github_form_encoded_payload() -> None:
    from urllib.parse import urlencode

    for ref, syncs in (("refs/heads/main", True), ("refs/heads/dev", False)):
        body = urlencode({"payload": json.dumps({"ref": ref})}).encode()
        assert judge("github", github(body), body, SECRET, "main").sync is syncs


def test_header_names_are_case_insensitive() -> None:
    body = push()
    headers = {"x-hub-signature-256": signature(SECRET, body), "x-github-event": "push"}
    assert judge("github", headers, body, SECRET, "main").sync is True


@given(st.binary(max_size=200), st.text(max_size=80))
def test_no_forged_signature_passes(body: bytes, forged: str) -> None:
    if forged == signature(SECRET, body):
        return
    assert judge("github", {"X-Hub-Signature-256": forged}, body, SECRET, "main").status == 401
    assert judge("generic", {"X-Syncd-Signature": forged}, body, SECRET, "main").status == 401


# --- repository URLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:pw@git.example/r.git", "https://alice:***@git.example/r.git"),
        ("https://ghp_TOKEN123@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("file:///srv/r.git", "file:///srv/r.git"),
        ("https://github.com/o/r@v.git", "https://github.com/o/r@v.git"),
    ],
)
def test_repository_urls_are_shown_without_credentials(url: str, shown: str) -> None:
    assert redact_repo(url) == shown
    message = f"fatal: unable to access '{url}': Could not resolve host"
    assert redact_repo(message) == f"fatal: unable to access '{shown}': Could not resolve host"

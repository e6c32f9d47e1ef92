"""What `syncd serve` tells people about each event: one log line and, where someone should
hear of it, one notification (SYNCD_NOTIFY_URL). The controller decides; this says it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from syncd.gitsource import Commit
from syncd.notify import Notifier

log = logging.getLogger("syncd.serve")


def _short(sha: str | None, empty: str = "-") -> str:
    return (sha or empty)[:12]


class Announcer:
    def __init__(self, notifier: Notifier, repo: str) -> None:
        self.notifier = notifier
        self.repo = repo  # the display URL: credentials never appear

    def fetch_failed(self, message: str, live: str | None) -> None:
        log.error("fetch failed: %s (the last good commit stays live)", message)
        self.notifier.send(
            "fetch_failed",
            f"syncd: cannot fetch {self.repo} ({message}); commit {_short(live)} stays live",
            repo=self.repo,
            error=message,
        )

    def fetch_recovered(self, head: str) -> None:
        log.info("fetch works again: %s is at %s", self.repo, head[:12])
        self.notifier.send(
            "fetch_recovered",
            f"syncd: {self.repo} is reachable again (head {head[:12]})",
            repo=self.repo,
            head=head,
        )

    def drift_found(self, drift: Sequence[str]) -> None:
        names = ", ".join(drift)
        log.warning("drift: %s edited in the database (not reverted: no --self-heal)", names)
        self.notifier.send(
            "drift_found", f"syncd: drift in {names} (edited in the database)", names=list(drift)
        )

    def live(
        self,
        action: str,
        commit: Commit,
        drift: Sequence[str],
        revision: int | None,
        summary: dict[str, int],
    ) -> None:
        """A commit went live (or a self-heal reverted drift)."""
        sha, s = commit.sha, summary
        what = (
            f"revision {revision}: {s['create']} created, {s['update']} updated, "
            f"{s['delete']} deleted"
            if revision
            else "no changes"
        )
        verb = "self-heal" if action == "heal" else "applied"
        log.info("%s %s (%s): %s", verb, sha[:12], commit.subject, what)
        if action == "heal":
            self.notifier.send(
                "drift_reverted",
                f"syncd: reverted drift in {', '.join(drift)} (commit {sha[:12]})",
                commit=sha,
                names=list(drift),
                revision=revision,
            )
            return
        self.notifier.send(
            "sync_succeeded",
            f'syncd: {sha[:12]} "{commit.subject}" by {commit.author} is live: {what}',
            commit=sha,
            author=commit.author,
            subject=commit.subject,
            revision=revision,
            summary=s,
        )

    def not_live(
        self,
        commit: Commit,
        result: str,
        errors: Sequence[str],
        live: str | None,
        *,
        notify: bool,
    ) -> None:
        """A commit was invalid, refused, denied or failed; `notify` on a change of state
        only (the same failing commit is not announced every interval)."""
        sha = commit.sha
        log.error(
            "commit %s (%s) %s; %s stays live:\n  %s",
            sha[:12],
            commit.subject,
            result,
            _short(live, "nothing"),
            "\n  ".join(errors[:20]),
        )
        if not notify:
            return
        event = {"invalid": "sync_failed", "error": "sync_failed"}.get(result, "sync_refused")
        self.notifier.send(
            event,
            f'syncd: commit {sha[:12]} "{commit.subject}" was {result}; '
            f"{_short(live, 'nothing')} stays live: " + "; ".join(errors[:5]),
            commit=sha,
            author=commit.author,
            subject=commit.subject,
            result=result,
            errors=list(errors[:50]),
        )

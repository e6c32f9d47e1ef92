"""The controller's decisions driven as a state machine (hypothesis): random pushes of
valid, invalid and emptying commits, force-pushes, remote outages, drift and syncs, against
a model of the shell that performs `decide` (what serve.py does with a real git and
database). After every step: only valid commits are ever live, an invalid commit is tried
once, a synced state means the head is live, and a sync with the remote up leaves the
valid head live."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from syncd import controller as c

RESULT = {"valid": c.APPLIED, "invalid": c.INVALID, "empty": c.REFUSED}


class ControllerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.kinds: dict[str, str] = {}
        self.remote: str | None = None
        self.up = True
        self.head: str | None = None
        self.live: str | None = None
        self.attempt: tuple[str | None, str | None] = (None, None)
        self.fetch_error: str | None = None
        self.drift: tuple[str, ...] = ()
        self.tries: dict[str, int] = {}
        self.counter = 0

    def known(self) -> c.Known:
        return c.Known(self.head, self.live, *self.attempt, self.fetch_error, self.drift)

    @rule(kind=st.sampled_from(["valid", "invalid", "empty"]))
    def push(self, kind: str) -> None:  # a push or a force-push: the branch moves anywhere
        self.counter += 1
        sha = f"{self.counter:040x}"
        self.kinds[sha] = kind
        self.remote = sha

    @rule()
    def remote_down(self) -> None:
        self.up = False

    @rule()
    def remote_up(self) -> None:
        self.up = True

    @rule()
    def edit_a_row_by_hand(self) -> None:
        if self.live is not None:
            self.drift = ("x",)

    @rule(heal=st.booleans())
    def sync(self, heal: bool) -> None:
        if not self.up:
            self.fetch_error = "connection refused"
            return
        self.fetch_error = None
        self.head = self.remote
        decision = c.decide(self.known(), self_heal=heal)
        if self.head is not None and self.kinds[self.head] == "valid" and self.head != self.live:
            assert decision == c.Decision("apply", self.head, "the remote head is not live")
        if decision.action == "none":
            return
        assert decision.commit is not None
        sha = decision.commit
        self.tries[sha] = self.tries.get(sha, 0) + 1
        if decision.action == "heal":
            # What serve does: the live commit's rows are rewritten; the attempt at the
            # head (maybe invalid, tried once) is left as it was.
            assert sha == self.live
            self.drift = ()
            return
        result = RESULT[self.kinds[sha]]
        self.attempt = (sha, result)
        if result == c.APPLIED:
            self.live = sha
            self.drift = ()  # an apply reverts drift

    @invariant()
    def only_valid_commits_are_live(self) -> None:
        assert self.live is None or self.kinds[self.live] == "valid"

    @invariant()
    def an_invalid_commit_is_tried_once(self) -> None:
        for sha, n in self.tries.items():
            if self.kinds[sha] == "invalid":
                assert n == 1

    @invariant()
    def synced_means_the_head_is_live(self) -> None:
        state, _ = c.sync_state(self.known())
        if state == c.SYNCED:
            assert self.head == self.live and not self.drift and self.fetch_error is None
        if self.fetch_error:
            assert state == c.FAILED


TestController = ControllerMachine.TestCase
TestController.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)

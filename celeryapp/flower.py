"""`python -m celeryapp.flower` (and `make flower`): Flower with basic auth, or not at all.

Credentials come from FLOWER_BASIC_AUTH (`user:password`, several separated by commas),
which Flower reads from its environment itself: they are never put on a command line,
where `ps` and /proc/PID/cmdline show them to every user of the machine. Flower is refused
(exit 64) without them, with a malformed pair, with a weak password, with a
`--basic-auth` argument (it would override the checked credential) or with
FLOWER_UNAUTHENTICATED_API set. Passwords are judged by zxcvbn (Dropbox's estimator, with
its lists of common passwords, names and keyboard patterns): a score of 3 or more (about
10^8 guesses) and at least 8 characters; fba shipped `admin:123456` on a published port
(W15).

Flower runs in this process, with its `/metrics` handler behind the same authentication as
every page (Flower 2 serves it to anyone). `/healthcheck` stays open: it says "OK" and
nothing else, for liveness probes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

EXIT_USAGE = 64
MIN_PASSWORD = 8
MIN_SCORE = 3  # zxcvbn: 0 too guessable ... 4 very unguessable; 3 is about 10^8 guesses
REFUSED_ARGUMENTS = (
    "--basic-auth",
    "--basic_auth",
    "--unauthenticated-api",
    "--unauthenticated_api",
)


class RefusedCredentials(ValueError):
    """FLOWER_BASIC_AUTH is missing or unsafe."""


def _weakness(user: str, password: str) -> str | None:
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    if len(password) < MIN_PASSWORD:
        return f"shorter than {MIN_PASSWORD} characters"
    if password.lower() == user.lower():
        return "the same as the user name"
    verdict = zxcvbn(password, user_inputs=[user, "flower", "celery", "syncd"])
    if verdict["score"] < MIN_SCORE:
        why = verdict["feedback"].get("warning") or "too easy to guess"
        return f"too easy to guess ({why.rstrip('.')})"
    return None


def check_credentials(
    value: str | None, variable: str = "FLOWER_BASIC_AUTH", what: str = "Flower"
) -> list[tuple[str, str]]:
    """The user:password pairs of `variable`, or RefusedCredentials saying what to set
    (`syncd serve`'s page is guarded by the same rules, with its own variable)."""
    if not value or not value.strip():
        raise RefusedCredentials(
            f"{variable} is not set; {what} will not start without basic auth. "
            f"Set {variable}=user:password (a long password that is not a common one)."
        )
    pairs = []
    for raw in value.split(","):
        user, sep, password = raw.strip().partition(":")
        if not sep or not user or not password:
            shown = f"{user}{sep}{'*' * len(password)}" if sep else "<no colon>"
            raise RefusedCredentials(f"{variable} entry {shown!r} is not user:password")
        weakness = _weakness(user, password)
        if weakness:
            raise RefusedCredentials(
                f"the password of {user!r} in {variable} is {weakness}; "
                "choose a long password that is not a common one"
            )
        pairs.append((user, password))
    return pairs


def check_arguments(env: Mapping[str, str], extra: Sequence[str]) -> None:
    """Refuse what would bypass the checked credentials."""
    for arg in extra:
        if arg.split("=", 1)[0] in REFUSED_ARGUMENTS:
            raise RefusedCredentials(
                f"{arg.split('=', 1)[0]} is not accepted on the command line (it would "
                "override the checked credentials, and `ps` shows command lines); set "
                "FLOWER_BASIC_AUTH in the environment"
            )
    if (env.get("FLOWER_UNAUTHENTICATED_API") or "").strip().lower() not in (
        "",
        "0",
        "false",
        "no",
    ):
        raise RefusedCredentials(
            "FLOWER_UNAUTHENTICATED_API is set: Flower's API would answer without credentials; "
            "unset it"
        )


def command(env: Mapping[str, str], extra: Sequence[str]) -> list[str]:
    """The celery arguments for these settings: no credential among them (Flower reads
    FLOWER_BASIC_AUTH from the environment)."""
    return [
        "celery",
        "-A",
        "celeryapp.app",
        "flower",
        f"--url-prefix={env.get('FLOWER_URL_PREFIX') or 'flower'}",
        f"--port={env.get('FLOWER_PORT') or '5555'}",
        f"--address={env.get('FLOWER_ADDRESS') or '0.0.0.0'}",  # noqa: S104 - a server
        *extra,
    ]


def protect_metrics() -> None:
    """Put Flower's /metrics behind the authentication its pages use."""
    from flower.views import monitor
    from tornado import web

    get: Any = monitor.Metrics.get
    if not getattr(get, "syncd_authenticated", False):
        guarded = web.authenticated(get)
        guarded.syncd_authenticated = True  # type: ignore[attr-defined]
        monitor.Metrics.get = guarded


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    extra = list(sys.argv[1:] if argv is None else argv)
    try:
        check_credentials(env.get("FLOWER_BASIC_AUTH"))
        check_arguments(env, extra)
    except RefusedCredentials as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    protect_metrics()
    from celery.bin.celery import main as celery_main

    sys.argv = command(env, extra)
    return int(celery_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
